"""HotProfile declared schema: every documented field typed, rows conformed, never a dlt variant column."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest

from conftest import HP_KEY, query, reference, run_hotprofile
from sandbox.hotprofile import HotProfileSandbox
from sources._schema import TYPES
from sources.hotprofile.tables import FLAG_SUFFIX, TABLES
from sources.hotprofile.shapes import columns, declared, normalizer

SPEC = reference("hotprofile/apiDefinition.swagger.json")
CALLS = {"clients": "/rest_api/v1/clients/get_entry_list_flow", "leads": "/rest_api/v1/leads/get_entry_list_flow",
         "business_cards": "/rest_api/v1/business_cards/get_entry_list"}
# documented inside the items, but the connector's flattening of items[] and of the "pages" counters
ARTIFACTS = {"itemslabel", "itemsvalue", "total_count", "total_number", "current_number", "display_number"}
UNDOCUMENTED = {"clients": {"jsic_business_category_kbn"}}
DUCKDB = {"text": "VARCHAR", "bigint": "BIGINT", "decimal": "DECIMAL(38,9)", "bool": "BOOLEAN",
          "timestamp": "TIMESTAMP WITH TIME ZONE", "date": "DATE", "double": "DOUBLE"}


def spec_fields(table: str) -> dict[str, dict]:
    spec = json.loads(SPEC.read_text())
    body = spec["paths"][CALLS[table]]["post"]["responses"]["200"]["schema"]["properties"]
    return {k: v for k, v in body[table]["items"]["properties"].items() if k not in ARTIFACTS}


@pytest.mark.skipif(not SPEC.exists(), reason="the API reference is not mounted")
@pytest.mark.parametrize("table", TABLES)
def test_every_documented_field_has_a_declared_type(table):
    registry = TABLES[table]
    fields = spec_fields(table)
    derived = {flag + FLAG_SUFFIX for flag in registry.flags}
    assert set(registry.columns) == set(fields) | derived | UNDOCUMENTED.get(table, set())
    assert set(registry.columns.values()) <= set(TYPES)
    lists = dict(registry.lists)
    assert set(lists) == set(registry.of_type("nested"))               # every list has its element type
    for name, info in fields.items():
        kind = registry.columns[name]
        if info.get("type") == "array":
            element = info["items"].get("type")
            assert kind == "nested"
            assert lists[name] == ("custom" if name == "items" else {"integer": "bigint", "string": "text"}[element])
        elif name == "id" or (name.endswith("_id") and name != "customer_id"):
            assert kind == "bigint", name
        elif name in ("latitude", "longitude"):
            assert kind == "decimal"
        elif name in ("created_at", "updated_at"):
            assert kind == "timestamp"
        elif name == "trade_on":
            assert kind == "date"
        elif name in registry.flags or any(code in name for code in ("zip", "tel", "fax", "corporate_number", "code")):
            assert kind == "text", name
    for flag in registry.flags:
        assert registry.columns[flag] == "text" and registry.columns[flag + FLAG_SUFFIX] == "bool"
    hints = columns(registry)
    assert hints["id"]["nullable"] is False and hints["updated_at"]["dedup_sort"] == "desc"
    assert hints["is_deleted"]["data_type"] == "bool" and hints["deleted_at"]["data_type"] == "timestamp"
    assert not set(registry.of_type("nested")) & set(hints)


def test_a_list_field_is_always_a_list():
    norm = normalizer(TABLES["clients"])
    rows = [norm({"id": i, "jsic_business_category_kbn": value, "items": items})
            for i, (value, items) in enumerate([("E", [{"label": "x", "value": 1}]), (["E", 7], "bare"),
                                                (None, None), ("", [])], 1)]
    assert [r["jsic_business_category_kbn"] for r in rows] == [["E"], ["E", "7"], [], []]
    assert [r["items"] for r in rows] == [[{"label": "x", "value": "1"}], [{"value": "bare"}], [], []]


def column_types(target) -> dict[tuple[str, str], str]:
    rows = query(target, "SELECT table_name, column_name, data_type FROM information_schema.columns "
                         "WHERE table_schema = 'hotprofile'")
    return {(t, c): kind for t, c, kind in rows}


def variants(target) -> list[tuple[str, str]]:
    return [key for key in column_types(target) if "__v_" in key[1]]


def test_every_declared_column_is_created_with_its_type(target):
    with HotProfileSandbox(seed=4, clients=20, leads=20, business_cards=20, api_key=HP_KEY, rate=None) as box:
        run_hotprofile(box, target)
    types = column_types(target)
    for name, table in TABLES.items():
        for column, kind in declared(table).items():
            if kind != "nested":
                assert types[(name, column)] == DUCKDB[kind], (name, column)
            else:
                assert (name, column) not in types
    assert not variants(target)


def list_values(target, table: str, field: str, row_id: int) -> list:
    rows = query(target, f"SELECT c.value FROM hotprofile.{table} p JOIN hotprofile.{table}__{field} c "
                         f"ON c._dlt_parent_id = p._dlt_id WHERE p.id = {row_id} ORDER BY c._dlt_list_idx")
    return [v for (v,) in rows]


def test_adversarial_values_never_split_a_column(target):
    """First one type, then another: within one load (id order) and across loads."""
    with HotProfileSandbox(seed=4, clients=20, leads=20, business_cards=20, api_key=HP_KEY, rate=None) as box:
        c, l, b = box.ids("clients"), box.ids("leads"), box.ids("business_cards")
        first = {
            "clients": dict(new_score=12, jsic_business_category_kbn="E", brand_new_list="x", latitude=35.5,
                            main_tel=312345678, corporate_number=123456789012, sales_last_year="1,200,000"),
            "leads": dict(lead_source_kbn_id=3, pref_id="13", tag_ids=[1, 2], organization_hierarchy="営業部",
                          items=[{"label": "予算", "value": 100}], new_score=7),
            "business_cards": dict(status=1, tag_ids=5, request_key=12345, latitude="35.6", new_score=1.5),
        }
        then = {
            "clients": dict(new_score="高い", jsic_business_category_kbn=["E", "G"], brand_new_list=["a", "b"],
                            latitude="北緯35度", main_tel="03-1234-5678", sales_last_year="約10億円"),
            "leads": dict(lead_source_kbn_id=4.5, pref_id=13.0, tag_ids=["7", "x"], organization_hierarchy=["本部", 2],
                          items=[{"label": "予算", "value": [1, 2]}, "bare"], new_score="A"),
            "business_cards": dict(status="closed", tag_ids=[1.5], request_key="00123", latitude=35, new_score=[1]),
        }
        ids = {"clients": c, "leads": l, "business_cards": b}
        for table in TABLES:
            box.patch(table, ids[table][0], **first[table])
            box.patch(table, ids[table][1], **then[table])               # same load, after the first row
        run_hotprofile(box, target)
        box.tick(60)
        for table in TABLES:
            box.patch(table, ids[table][2], **then[table])               # a later load
        run_hotprofile(box, target)

    assert variants(target) == []
    types = column_types(target)
    assert types[("clients", "new_score")] == types[("clients", "brand_new_list")] == "VARCHAR"
    assert types[("leads", "new_score")] == types[("business_cards", "new_score")] == "VARCHAR"
    assert ("clients", "jsic_business_category_kbn") not in types
    assert ("leads", "organization_hierarchy") not in types and ("business_cards", "tag_ids") not in types

    def row(table, row_id, *cols):
        return query(target, f"SELECT {', '.join(cols)} FROM hotprofile.{table} WHERE id = {row_id}")[0]

    cols = ("new_score", "brand_new_list", "latitude", "main_tel", "corporate_number", "sales_last_year")
    assert row("clients", c[0], *cols) == ("12", "x", Decimal("35.5"), "312345678", "0123456789012", "1,200,000")
    for row_id in c[1:3]:       # free text stays text; a latitude that is no number is NULL (with a warning)
        assert row("clients", row_id, *cols[:4], cols[5]) == ("高い", '["a", "b"]', None, "03-1234-5678", "約10億円")
    assert list_values(target, "clients", "jsic_business_category_kbn", c[0]) == ["E"]
    assert list_values(target, "clients", "jsic_business_category_kbn", c[1]) == ["E", "G"]
    assert list_values(target, "clients", "jsic_business_category_kbn", c[2]) == ["E", "G"]

    cols = ("lead_source_kbn_id", "pref_id", "new_score")
    assert row("leads", l[0], *cols) == (3, 13, "7")
    assert row("leads", l[1], *cols) == row("leads", l[2], *cols) == (None, 13, "A")
    assert list_values(target, "leads", "tag_ids", l[0]) == [1, 2]
    assert list_values(target, "leads", "tag_ids", l[2]) == [7, None]
    assert list_values(target, "leads", "organization_hierarchy", l[0]) == ["営業部"]
    assert list_values(target, "leads", "organization_hierarchy", l[2]) == ["本部", "2"]
    items = query(target, "SELECT i.label, i.value FROM hotprofile.leads p JOIN hotprofile.leads__items i "
                          f"ON i._dlt_parent_id = p._dlt_id WHERE p.id = {l[2]} ORDER BY i._dlt_list_idx")
    assert items == [("予算", "[1, 2]"), (None, "bare")]

    cols = ("status", "request_key", "latitude", "new_score")
    assert row("business_cards", b[0], *cols) == (1, "12345", Decimal("35.6"), "1.5")
    assert row("business_cards", b[2], *cols) == (None, "00123", Decimal("35"), "[1]")
    assert list_values(target, "business_cards", "tag_ids", b[0]) == [5]
    assert list_values(target, "business_cards", "tag_ids", b[2]) == [None]
