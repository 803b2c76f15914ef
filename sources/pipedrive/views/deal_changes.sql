-- deal_changes: one row per change of a deal field (the deal's flow), deleted deals left out.
--
-- `field`: the name users see in Pipedrive (for a custom field its current name, not its 40-hex key);
SELECT f.id AS change_id, f.deal_id, f.log_time AS changed_at, f.user_id, u.name AS user_name,
       COALESCE(c.name, f.field_name, f.field_key) AS field,
       f.old_value, f.new_value, f.change_source
FROM dealflow AS f
LEFT JOIN custom_fields AS c ON c.hash = f.field_key AND c.entity = 'deal'
LEFT JOIN users AS u ON u.id = f.user_id
WHERE NOT COALESCE(f.is_deleted, FALSE)
