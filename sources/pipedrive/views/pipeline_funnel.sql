-- pipeline_funnel: one row per stage of a live pipeline, in pipeline and stage order.
--
-- `deals_entered`: live deals that ever entered the stage (once each, re-entries included once).
-- `deals_moved_on`: of those, the deals that later entered a later stage (higher `order_nr`) of the same
-- pipeline, or were won. `conversion_rate` = deals_moved_on / deals_entered.
-- `median_hours_in_stage`: over the entries that ended (the deal left the stage, or was closed in it).
WITH history AS (
    SELECT deal_id, stage_id, entered_at, left_at, hours_in_stage
    FROM deal_stage_history
),
stage_list AS (
    SELECT s.id AS stage_id, s.name AS stage_name, s.order_nr, s.pipeline_id, p.name AS pipeline_name
    FROM stages AS s
    JOIN pipelines AS p ON p.id = s.pipeline_id
    WHERE NOT COALESCE(s.is_deleted, FALSE) AND NOT COALESCE(p.is_deleted, FALSE)
),
first_entries AS (
    SELECT deal_id, stage_id, MIN(entered_at) AS first_entered_at
    FROM history
    GROUP BY deal_id, stage_id
),
moved_on AS (
    SELECT f.deal_id, f.stage_id
    FROM first_entries AS f
    JOIN stage_list AS here ON here.stage_id = f.stage_id
    JOIN history AS later ON later.deal_id = f.deal_id AND later.entered_at >= f.first_entered_at
    JOIN stage_list AS there ON there.stage_id = later.stage_id AND there.pipeline_id = here.pipeline_id
                            AND there.order_nr > here.order_nr
    UNION
    SELECT f.deal_id, f.stage_id
    FROM first_entries AS f
    JOIN deals AS d ON d.id = f.deal_id
    WHERE d.status = 'won'
),
durations AS (
    SELECT stage_id, MEDIAN(hours_in_stage) AS median_hours_in_stage
    FROM history
    WHERE left_at IS NOT NULL
    GROUP BY stage_id
),
counts AS (
    SELECT f.stage_id, COUNT(*) AS deals_entered, COUNT(m.deal_id) AS deals_moved_on
    FROM first_entries AS f
    LEFT JOIN moved_on AS m ON m.deal_id = f.deal_id AND m.stage_id = f.stage_id
    GROUP BY f.stage_id
)
SELECT sl.pipeline_id, sl.pipeline_name, sl.stage_id, sl.stage_name, sl.order_nr,
       COALESCE(c.deals_entered, 0) AS deals_entered, COALESCE(c.deals_moved_on, 0) AS deals_moved_on,
       CAST(c.deals_moved_on AS DOUBLE) / NULLIF(c.deals_entered, 0) AS conversion_rate,
       d.median_hours_in_stage
FROM stage_list AS sl
LEFT JOIN counts AS c ON c.stage_id = sl.stage_id
LEFT JOIN durations AS d ON d.stage_id = sl.stage_id
ORDER BY sl.pipeline_id, sl.order_nr, sl.stage_id
