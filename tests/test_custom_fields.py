"""Custom fields: hash → stable readable columns, decoded values (against the Pipedrive emulator over HTTP)."""
from __future__ import annotations


import pytest

from sources._http import pipedrive_client
from sources.pipedrive import custom_fields as cf
from sources.pipedrive.custom_fields import ADDRESS_PARTS, FieldCatalog, fetch_fields, snake_name
from sources.pipedrive.paginators import CURSOR, OFFSET

TOKEN = "t"
DEAL_STANDARD = {"id", "title", "value", "currency", "owner_id", "org_id", "person_id", "status", "custom_fields"}


@pytest.fixture
def sb():
    from sandbox.pipedrive import PipedriveSandbox

    with PipedriveSandbox(seed=1, deals=50, token=TOKEN, burst=10_000) as sandbox:
        yield sandbox


@pytest.fixture
def client(sb):
    return pipedrive_client(sb.base_url, TOKEN, burst=10_000)


def v2_deals(client) -> list[dict]:
    params = {"limit": 500, "status": "open,won,lost,deleted"}
    return [row for path in ("/api/v2/deals", "/api/v2/deals/archived")
            for page in CURSOR.pages(client, path, params, table="deals", cost=10) for row in page]


def deal_catalog(client, names=None, standard=DEAL_STANDARD) -> tuple[FieldCatalog, dict]:
    names = {} if names is None else names
    return FieldCatalog("deal", fetch_fields(client, "deal", table="deal_fields"), names, standard), names


def field(key_seed: str, name: str, ftype: str, options=None) -> dict:
    import hashlib

    return {"key": hashlib.sha1(key_seed.encode()).hexdigest(), "name": name, "field_type": ftype,
            "options": options, "edit_flag": True}


# ------------------------------------------------------------------ fetching


def test_fetch_fields_reads_all_pages_with_limit_500_and_cost_20(sb, client, monkeypatch):
    fields = fetch_fields(client, "deal", table="deal_fields")
    assert {f["name"] for f in fields} >= {"Title", "Customer type", "Billing address"}
    request, = sb.server.requests_to(r"^/v1/dealFields$")
    assert request.query["limit"] == "500"
    assert client.stats["deal_fields"].tokens == 20

    monkeypatch.setattr(cf, "FIELDS_PAGE", 7)              # force several pages
    paged = fetch_fields(client, "deal", table="deal_fields_paged")
    assert [f["key"] for f in paged] == [f["key"] for f in fields]
    pages = len(sb.server.requests_to(r"^/v1/dealFields$")) - 1
    assert pages == -(-len(fields) // 7) and client.stats["deal_fields_paged"].tokens == 20 * pages

    lead_fields = fetch_fields(client, "lead", table="lead_fields")   # leads inherit the deal fields
    assert [f["key"] for f in lead_fields] == [f["key"] for f in fields]
    for entity in cf.ENTITIES:
        assert any(f.get("edit_flag") for f in fetch_fields(client, entity, table=entity))


# ------------------------------------------------------------------ v2 rows


def test_apply_gives_readable_columns_with_decoded_values(sb, client):
    catalog, names = deal_catalog(client)
    keys = sb.custom_field_keys("deal")
    fields = {f["key"]: f for f in fetch_fields(client, "deal", table="x")}
    labels = {k: {o["id"]: o["label"] for o in (f["options"] or [])} for k, f in fields.items()}
    expected = {d["id"]: d["custom_fields"] for d in sb.expected("deals")}

    assert {names[keys[n]] for n in keys} == {
        "customer_type", "industries", "contract_value", "region_notes", "reference_code", "score",
        "renewal_date", "billing_address", "account_manager", "partner_org", "champion", "hotline"}

    rows = [catalog.apply(row) for row in v2_deals(client)]
    assert len(rows) == len(expected)
    seen = set()
    for row in rows:
        raw = expected[row["id"]]
        assert "custom_fields" not in row and not any(len(k) == 40 for k in row)
        assert row["title"] and "value" in row                         # standard columns untouched

        enum = raw[keys["Customer type"]]
        assert row["customer_type"] == (None if enum is None else labels[keys["Customer type"]][enum])
        chosen = raw[keys["Industries"]]
        assert row["industries"] == (None if chosen is None else [labels[keys["Industries"]][i] for i in chosen])

        money = raw[keys["Contract value"]]
        assert row["contract_value"] == (None if money is None else money["value"])
        assert row["contract_value_currency"] == (None if money is None else money["currency"])
        assert money is None or isinstance(row["contract_value"], float)

        addr = raw[keys["Billing address"]]
        assert row["billing_address"] == (None if addr is None else addr["value"])
        for part in ("street_number", "route", "locality", "country", "postal_code", "formatted_address"):
            assert row[f"billing_address_{part}"] == (None if addr is None else addr[part])

        assert row["score"] == raw[keys["Score"]]
        assert row["renewal_date"] == raw[keys["Renewal date"]]
        assert row["account_manager"] == raw[keys["Account manager"]]
        assert row["hotline"] == raw[keys["Hotline"]]
        seen.update(k for k, v in raw.items() if v is not None)
    assert seen == set(keys.values())                     # every field had at least one value to check
    assert catalog.unknown_options == 0 and not catalog.unknown_fields


def test_unset_values_still_emit_every_column(client):
    catalog, names = deal_catalog(client)
    row = catalog.apply({"id": 1, "custom_fields": {h: None for h in names}})
    assert set(catalog.columns()) <= set(row)
    assert all(row[c] is None for c in catalog.columns())
    bare = catalog.apply({"id": 2})                       # no custom_fields at all
    assert set(catalog.columns()) <= set(bare)


def test_columns_hints_per_field_type(client):
    catalog, _ = deal_catalog(client)
    types = {name: hint["data_type"] for name, hint in catalog.columns().items()}
    assert types["customer_type"] == "text" and types["industries"] == "json"
    assert types["contract_value"] == "double" and types["contract_value_currency"] == "text"
    assert types["score"] == "double" and types["renewal_date"] == "date"
    assert types["account_manager"] == types["partner_org"] == types["champion"] == "bigint"
    assert types["hotline"] == types["region_notes"] == types["reference_code"] == "text"
    assert types["billing_address"] == "text"
    assert all(types[f"billing_address_{part}"] == "text" for part in ADDRESS_PARTS)


def test_column_name_is_stable_after_a_rename_in_pipedrive(sb, client):
    keys = sb.custom_field_keys("deal")
    names: dict[str, str] = {}
    deal_catalog(client, names)
    snapshot = dict(names)

    sb.rename_field("deal", keys["Customer type"], "Kundentyp (Kategorie)")
    catalog, same = deal_catalog(client, names)
    assert same is names and names == snapshot
    row = catalog.apply(v2_deals(client)[1])
    assert "customer_type" in row and "kundentyp_kategorie" not in row
    mapping = {m["hash"]: m for m in catalog.mapping_rows()}
    assert mapping[keys["Customer type"]]["name"] == "Kundentyp (Kategorie)"   # lineage shows the new name
    assert mapping[keys["Customer type"]]["column"] == "customer_type"

    fresh: dict[str, str] = {}                            # a first run after the rename names it anew
    deal_catalog(client, fresh)
    assert fresh[keys["Customer type"]] == "kundentyp_kategorie"


def test_new_option_is_a_readable_id_until_fields_are_fetched_again(sb, client):
    keys = sb.custom_field_keys("deal")
    enum_key, set_key = keys["Customer type"], keys["Industries"]
    names: dict[str, str] = {}
    old, _ = deal_catalog(client, names)
    enum_id = sb.add_option("deal", enum_key, "Non-profit")
    set_id = sb.add_option("deal", set_key, "Agriculture")
    sb.update("deals", 3, custom_fields={enum_key: enum_id, set_key: [set_id]})
    deal = next(d for d in v2_deals(client) if d["id"] == 3)

    row = old.apply(dict(deal, custom_fields=dict(deal["custom_fields"])))
    assert row["customer_type"] == str(enum_id) and row["industries"] == [str(set_id)]
    assert old.unknown_options == 2

    new, _ = deal_catalog(client, names)
    row = new.apply(deal)
    assert row["customer_type"] == "Non-profit" and row["industries"] == ["Agriculture"]
    assert new.unknown_options == 0


def test_collisions_with_standard_keys_and_other_custom_columns_get_a_suffix():
    fields = [
        {"key": "title", "name": "Title", "field_type": "varchar", "edit_flag": False},
        field("a", "Title", "varchar"),                         # vs a standard key from the fields list
        field("b", "Value", "monetary"),                        # vs a standard key passed in
        field("c", "Value", "double"),                          # vs the other custom column
        field("d", "Budget", "monetary"),
        field("e", "Budget currency", "varchar"),               # vs a monetary sub-column
        field("f", "Ödeme Şekli", "enum", [{"id": 1, "label": "Nakit"}]),
        field("g", "Срок оплаты", "date"),                      # non-latin → cf_<hash>
        field("h", "2024 Target", "double"),
    ]
    names: dict[str, str] = {}
    catalog = FieldCatalog("deal", fields, names, {"value", "currency"})
    assert [names[f["key"]] for f in fields[1:]] == ["title_2", "value_2", "value_3", "budget", "budget_currency_2",
                                      "odeme_sekli", f"cf_{fields[7]['key'][:8]}", "cf_2024_target"]
    assert len(set(catalog.columns())) == len(catalog.columns())
    assert "title" not in names.values()


def test_existing_names_are_never_changed_and_stay_reserved():
    fields = [field("a", "Region", "varchar"), field("b", "Region", "varchar")]
    names = {fields[0]["key"]: "legacy_region", "0" * 40: "region"}     # a deleted field still owns "region"
    FieldCatalog("deal", fields, names)
    assert names[fields[0]["key"]] == "legacy_region"
    assert names[fields[1]["key"]] == "region_2"
    assert names["0" * 40] == "region"


def test_snake_name():
    key = "ab" * 20
    assert snake_name("Région  (EU) – Notes!", key) == "region_eu_notes"
    assert snake_name("Straße", key) == "strae"
    assert snake_name("顧客区分", key) == "cf_abababab"
    assert snake_name("", key) == "cf_abababab"
    assert snake_name("123", key) == "cf_123"
    assert len(snake_name("x" * 200, key)) <= 63


def test_ranges_and_other_shapes():
    fields = [field("dr", "Contract period", "daterange"), field("tr", "Office hours", "timerange"),
              field("t", "Call time", "time"), field("u", "Owner 2", "user"),
              field("x", "Mystery", "some_new_type")]
    catalog = FieldCatalog("deal", fields, {})
    dr, tr, t, u, x = (f["key"] for f in fields)
    row = catalog.apply({"id": 1, "custom_fields": {
        dr: {"start": "2024-01-01", "end": "2024-12-31"}, tr: {"from": "09:00:00", "until": "17:00:00"},
        t: "10:30:00", u: {"id": 5, "name": "Ann", "value": 5}, x: {"any": "thing"}}})
    assert (row["contract_period"], row["contract_period_until"]) == ("2024-01-01", "2024-12-31")
    assert (row["office_hours"], row["office_hours_until"]) == ("09:00:00", "17:00:00")
    assert row["call_time"] == "10:30:00" and row["owner_2"] == 5 and row["mystery"] == {"any": "thing"}
    hints = catalog.columns()
    assert hints["contract_period"]["data_type"] == hints["contract_period_until"]["data_type"] == "date"
    assert hints["office_hours"]["data_type"] == hints["call_time"]["data_type"] == "text"
    assert hints["mystery"]["data_type"] == "text"          # unknown field type: text, which cannot split

    v1 = catalog.apply_v1({"id": 2, dr: "2024-02-01", f"{dr}_until": "2024-03-01", tr: "08:00:00",
                           f"{tr}_until": "12:00:00", t: None})
    assert (v1["contract_period"], v1["contract_period_until"]) == ("2024-02-01", "2024-03-01")
    assert (v1["office_hours"], v1["office_hours_until"]) == ("08:00:00", "12:00:00")
    assert v1["call_time"] is None and not any(len(k) >= 40 for k in v1)


def test_unknown_hash_is_dropped_and_reported():
    catalog = FieldCatalog("deal", [field("a", "Known", "varchar")], {})
    stranger = "f" * 40
    row = catalog.apply({"id": 1, "custom_fields": {stranger: 1, field("a", "", "")["key"]: "x"}})
    assert row["known"] == "x" and stranger not in row and catalog.unknown_fields == {stranger}
    row = catalog.apply_v1({"id": 2, "e" * 40: 3, "e" * 40 + "_currency": "EUR"})
    assert not any(k.startswith("e" * 40) for k in row) and "e" * 40 in catalog.unknown_fields


# ------------------------------------------------------------------ v1 rows (leads)


def test_v1_lead_rows_are_converted(sb, client):
    catalog = FieldCatalog("lead", fetch_fields(client, "lead", table="lead_fields"), {}, {"title", "value"})
    keys = sb.custom_field_keys("deal")
    labels = {o["id"]: o["label"] for f in fetch_fields(client, "deal", table="x") for o in (f["options"] or [])}
    leads = [row for page in OFFSET.pages(client, "/v1/leads", {"limit": 500}, table="leads", cost=20) for row in page]
    assert leads
    checked = set()
    for lead in leads:
        raw = sb.data.leads[lead["id"]]["_custom"]                   # the emulator's v2-shaped truth
        assert any(len(k) >= 40 for k in lead) == bool(raw)
        row = catalog.apply_v1(lead)
        assert not any(len(k) >= 40 for k in row)
        assert set(catalog.columns()) <= set(row)
        assert row["value"] == lead["value"]                          # the lead's own value object is kept
        for name, key in keys.items():
            value = raw.get(key)
            checked.add(name) if value is not None else None
            column = catalog.names[key]
            if name == "Customer type":
                assert row[column] == (None if value is None else labels[value])
            elif name == "Industries":
                assert row[column] == (None if value is None else [labels[i] for i in value])
            elif name == "Contract value":
                assert row[column] == (None if value is None else value["value"])
                assert row[f"{column}_currency"] == (None if value is None else value["currency"])
            elif name == "Billing address":
                assert row[column] == (None if value is None else value["value"])
                for part in ADDRESS_PARTS:
                    assert row[f"{column}_{part}"] == (None if value is None else value.get(part))
            else:
                assert row[column] == value
    assert {"Customer type", "Industries", "Contract value", "Billing address"} <= checked
    assert catalog.unknown_options == 0 and not catalog.unknown_fields


# ------------------------------------------------------------------ lineage / speed


def test_mapping_rows(sb, client):
    keys = sb.custom_field_keys("organization")
    catalog = FieldCatalog("organization", fetch_fields(client, "organization", table="org_fields"), {},
                           {"name", "address"})
    rows = catalog.mapping_rows()
    assert len(rows) == len(keys)
    assert all(set(r) == {"hash", "entity", "name", "column", "field_type"} for r in rows)
    by_name = {r["name"]: r for r in rows}
    assert by_name["HQ address"] == {"hash": keys["HQ address"], "entity": "organization", "name": "HQ address",
                                     "column": "hq_address", "field_type": "address"}
    assert by_name["Company size"]["column"] == "company_size" and by_name["Markets"]["field_type"] == "set"
