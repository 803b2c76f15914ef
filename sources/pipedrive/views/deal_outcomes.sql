-- deal_outcomes: one row per closed deal (won or lost), deleted deals left out.
--
-- `days_to_close`: days (with fractions) from `add_time` to `close_time`. `value` is in the deal's own
-- `currency`.
SELECT d.id AS deal_id, d.title, d.pipeline_id, p.name AS pipeline_name, d.owner_id, u.name AS owner_name,
       d.status, d.value, d.currency, d.add_time, d.close_time,
       (EPOCH(d.close_time) - EPOCH(d.add_time)) / 86400.0 AS days_to_close, d.lost_reason
FROM deals AS d
LEFT JOIN pipelines AS p ON p.id = d.pipeline_id
LEFT JOIN users AS u ON u.id = d.owner_id
WHERE NOT COALESCE(d.is_deleted, FALSE) AND d.status IN ('won', 'lost')
