-- clients_current: one row per live client company (deleted clients left out).
--
-- The `*_kbn` columns hold HotProfile's category labels (industry, headcount, capital, listing) as text.
SELECT id, name, name_kana, name_disp, corporate_number,
       business_category_kbn AS industry, worker_number_kbn AS headcount_band,
       capital_kbn AS capital_band, ipo_kbn AS listing, sales_last_year,
       main_tel, url, mail_domain, zip, pref, address, address1, address2, address3, latitude, longitude,
       user_name AS owner_user_name, user_code AS owner_user_code, note, created_at, updated_at
FROM clients
WHERE NOT COALESCE(is_deleted, FALSE)
