-- activity_summary: one row per owner x ISO week (Monday, of the due date) x activity type.
--
-- `done`: activities marked done; `open`: not done; `overdue`: not done and due before today.
-- Deleted activities and activities without a due date are left out.
SELECT a.owner_id, u.name AS owner_name,
       CAST(DATE_TRUNC('week', CAST(a.due_date AS TIMESTAMP)) AS DATE) AS week,
       a.type, t.name AS type_name,
       COUNT(CASE WHEN a.done THEN 1 END) AS done,
       COUNT(CASE WHEN NOT COALESCE(a.done, FALSE) THEN 1 END) AS open,
       COUNT(CASE WHEN NOT COALESCE(a.done, FALSE) AND a.due_date < CURRENT_DATE THEN 1 END) AS overdue
FROM activities AS a
LEFT JOIN users AS u ON u.id = a.owner_id
LEFT JOIN activity_types AS t ON t.key_string = a.type
WHERE NOT COALESCE(a.is_deleted, FALSE) AND a.due_date IS NOT NULL
GROUP BY a.owner_id, u.name, CAST(DATE_TRUNC('week', CAST(a.due_date AS TIMESTAMP)) AS DATE), a.type, t.name
