-- deal_stage_history: one row per entry of a deal into a stage; a re-entry into a stage is a new row.
--
-- From the deal's flow: each `stage_id` change enters its new stage at `log_time`. The creation event
-- (a change from no stage) gives the first stage; when the first change starts from a stage instead (its
-- history began later), the deal entered that stage at `add_time`; a deal without stage changes has been
-- in its current stage since `add_time`. `pipeline_id` is the stage's pipeline, so a move to another
-- pipeline shows as an entry into that pipeline's stage.
-- `left_at`: the next entry; for the last entry of a won or lost deal, its close time; NULL while the
-- deal is open in the stage. `hours_in_stage` runs to `left_at`, or to now. `is_current`: the deal is in
-- this stage now (the last entry). Deleted deals and their flow are left out.
WITH live_deals AS (
    SELECT id, stage_id, add_time, status, close_time
    FROM deals
    WHERE NOT COALESCE(is_deleted, FALSE)
),
stage_changes AS (
    SELECT f.deal_id, f.id AS event_id, f.log_time,
           CAST(f.old_value AS BIGINT) AS old_stage_id, CAST(f.new_value AS BIGINT) AS new_stage_id,
           ROW_NUMBER() OVER (PARTITION BY f.deal_id ORDER BY f.log_time, f.id) AS change_number
    FROM dealflow AS f
    JOIN live_deals AS d ON d.id = f.deal_id
    WHERE f.field_key = 'stage_id' AND NOT COALESCE(f.is_deleted, FALSE)
),
entries AS (
    SELECT d.id AS deal_id, COALESCE(c.old_stage_id, d.stage_id) AS stage_id, d.add_time AS entered_at,
           CAST(0 AS BIGINT) AS event_id
    FROM live_deals AS d
    LEFT JOIN stage_changes AS c ON c.deal_id = d.id AND c.change_number = 1
    WHERE c.deal_id IS NULL OR c.old_stage_id IS NOT NULL
    UNION ALL
    SELECT deal_id, new_stage_id, log_time, event_id
    FROM stage_changes
),
timed AS (
    SELECT e.deal_id, e.stage_id, e.entered_at,
           LEAD(e.entered_at) OVER (PARTITION BY e.deal_id ORDER BY e.entered_at, e.event_id) AS next_entered_at
    FROM entries AS e
),
bounded AS (
    SELECT t.deal_id, t.stage_id, t.entered_at, t.next_entered_at IS NULL AS is_current,
           CASE WHEN t.next_entered_at IS NOT NULL THEN t.next_entered_at
                WHEN d.status IN ('won', 'lost') THEN GREATEST(d.close_time, t.entered_at)
           END AS left_at
    FROM timed AS t
    JOIN live_deals AS d ON d.id = t.deal_id
)
SELECT b.deal_id, s.pipeline_id, b.stage_id, s.name AS stage_name, b.entered_at, b.left_at,
       (EPOCH(COALESCE(b.left_at, CURRENT_TIMESTAMP)) - EPOCH(b.entered_at)) / 3600.0 AS hours_in_stage,
       b.is_current
FROM bounded AS b
LEFT JOIN stages AS s ON s.id = b.stage_id
