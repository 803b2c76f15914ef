-- deals_current: one row per open deal (deleted deals left out), with every deal column plus the names
-- of its stage, pipeline, owner, person and organization.
--
-- `days_in_stage`: whole days since the deal entered its stage (`stage_change_time`, else `add_time`).
-- `next_activity_date`: the earliest due date of its activities not done (overdue ones included).
WITH next_activities AS (
    SELECT deal_id, MIN(due_date) AS next_activity_date
    FROM activities
    WHERE NOT COALESCE(is_deleted, FALSE) AND NOT COALESCE(done, FALSE) AND deal_id IS NOT NULL
    GROUP BY deal_id
)
SELECT d.*, s.name AS stage_name, p.name AS pipeline_name, u.name AS owner_name, pe.name AS person_name,
       o.name AS org_name,
       CAST(FLOOR((EPOCH(CURRENT_TIMESTAMP) - EPOCH(COALESCE(d.stage_change_time, d.add_time))) / 86400)
            AS BIGINT) AS days_in_stage,
       n.next_activity_date
FROM deals AS d
LEFT JOIN stages AS s ON s.id = d.stage_id
LEFT JOIN pipelines AS p ON p.id = d.pipeline_id
LEFT JOIN users AS u ON u.id = d.owner_id
LEFT JOIN persons AS pe ON pe.id = d.person_id
LEFT JOIN organizations AS o ON o.id = d.org_id
LEFT JOIN next_activities AS n ON n.deal_id = d.id
WHERE NOT COALESCE(d.is_deleted, FALSE) AND d.status = 'open'
