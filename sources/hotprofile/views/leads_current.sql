-- leads_current: one row per live lead (deleted leads left out), flags as booleans with readable names.
--
-- HotProfile sends each flag as text ('✓' set, 'ー' not set); `<flag>_flg_bool` holds it as a boolean
-- and is shown here under a name that says what it means.
SELECT id, name, name_kana, family_name, first_name, family_name_kana, first_name_kana,
       client_id, client_name, customer_id, organization_id, organization_name, post,
       owner_user_id, owner_user_code, owner_user_name,
       lead_status, lead_status_name, lead_source, lead_source_kbn_id, lead_source_kbn_name,
       email, mobile_email, tel, extension, mobile_tel, fax, url,
       zip, pref_id, pref, address, address1, address2, address3, latitude, longitude, note,
       trade_on, created_at, updated_at,
       competitor_flg_bool AS is_competitor,
       end_user_flg_bool AS is_end_user,
       important_customer_flg_bool AS is_important_customer,
       store_flg_bool AS is_store,
       not_dm_flg_bool AS no_direct_mail,
       not_fax_flg_bool AS no_fax,
       not_mail_flg_bool AS no_email,
       not_tel_flg_bool AS no_phone,
       error_address_flg_bool AS address_bounced,
       error_fax_flg_bool AS fax_bounced,
       error_mail_flg_bool AS email_bounced,
       error_tel_flg_bool AS phone_unreachable
FROM leads
WHERE NOT COALESCE(is_deleted, FALSE)
