-- win_rate_by_month: one row per month (UTC, of `close_time`) x pipeline x owner with a closed deal.
--
-- `win_rate` = won / (won + lost). `won_value` sums `value` of the won deals across their currencies.
WITH closed AS (
    SELECT CAST(DATE_TRUNC('month', d.close_time AT TIME ZONE 'UTC') AS DATE) AS month, d.pipeline_id,
           d.owner_id, d.status, d.value
    FROM deals AS d
    WHERE NOT COALESCE(d.is_deleted, FALSE) AND d.status IN ('won', 'lost') AND d.close_time IS NOT NULL
),
totals AS (
    SELECT month, pipeline_id, owner_id,
           COUNT(CASE WHEN status = 'won' THEN 1 END) AS won,
           COUNT(CASE WHEN status = 'lost' THEN 1 END) AS lost,
           SUM(CASE WHEN status = 'won' THEN value ELSE 0 END) AS won_value
    FROM closed
    GROUP BY month, pipeline_id, owner_id
)
SELECT t.month, t.pipeline_id, p.name AS pipeline_name, t.owner_id, u.name AS owner_name, t.won, t.lost,
       CAST(t.won AS DOUBLE) / NULLIF(t.won + t.lost, 0) AS win_rate, t.won_value
FROM totals AS t
LEFT JOIN pipelines AS p ON p.id = t.pipeline_id
LEFT JOIN users AS u ON u.id = t.owner_id
