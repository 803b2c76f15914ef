"""The sandboxes' truth vs. a warehouse, table by table (any SQL warehouse: ``fetch(sql) -> rows``).

For every table: the rows the CRM lists as live are in the warehouse with ``is_deleted = false`` and the
CRM's values; every other warehouse row is marked ``is_deleted = true`` with a ``deleted_at``; rows the
CRM lists as deleted (deals) are in the warehouse, marked.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable

from sources._incremental import parse_time
from sources.hotprofile.shapes import parse_jst
from sources.pipedrive import shapes
from sources.pipedrive.tables import TABLES

Fetch = Callable[[str], list[tuple]]

# warehouse table → (sandbox table, columns compared besides the key)
PIPEDRIVE = {
    "deals": ("deals", ("title", "value", "status", "stage_id", "owner_id", "is_archived", "update_time")),
    "persons": ("persons", ("name", "owner_id", "update_time")),
    "organizations": ("organizations", ("name", "update_time")),
    "activities": ("activities", ("subject", "done", "update_time")),
    "products": ("products", ("name", "description", "update_time")),
    "notes": ("notes", ("content", "update_time")),
    "files": ("files", ("description", "update_time")),
    "leads": ("leads", ("title", "is_archived", "update_time")),
    "pipelines": ("pipelines", ("name",)),
    "stages": ("stages", ("name", "pipeline_id")),
    "users": ("users", ("name",)),
    "activity_types": ("activity_types", ("name",)),
    "currencies": ("currencies", ("code",)),
    "filters": ("filters", ("name",)),
    "deal_fields": ("deal_fields", ("name",)),
    "person_fields": ("person_fields", ("name",)),
    "organization_fields": ("organization_fields", ("name",)),
    "product_fields": ("product_fields", ("name",)),
    "activity_fields": ("activity_fields", ("name",)),
    "deal_products": ("deal_products", ("deal_id", "product_id", "quantity", "sum")),
    "deal_participants": ("participants", ("deal_id", "add_time")),
    "dealflow": ("flow", ("deal_id", "field_key", "new_value", "log_time")),
}
HOTPROFILE = {"clients": ("updated_at", "name"), "leads": ("updated_at", "client_id"),
              "business_cards": ("updated_at", "name")}


def _same(want: Any, got: Any) -> bool:
    if want is None or got is None:
        return want is None and got is None
    if isinstance(got, datetime):
        want = want if isinstance(want, datetime) else parse_time(str(want))
        return want == got
    if isinstance(got, (float, Decimal)) or isinstance(want, float):
        return abs(float(want) - float(got)) < 1e-6
    if isinstance(got, date):
        return str(want)[:10] == got.isoformat()
    if isinstance(got, str) and not isinstance(want, str):     # a number or flag in a text column
        want = {True: "true", False: "false"}.get(want, want) if isinstance(want, bool) else want
        want = str(int(want)) if isinstance(want, float) and want.is_integer() else str(want)
    return want == got


def _stored(fetch: Fetch, dataset: str, table: str, key: str, columns: tuple[str, ...]) -> dict:
    cols = ", ".join(f'"{c}"' for c in columns)
    rows = fetch(f'SELECT "{key}", is_deleted, deleted_at{", " + cols if cols else ""} FROM {dataset}."{table}"')
    stored = {row[0]: row[1:] for row in rows}
    assert len(stored) == len(rows), f"{table}: {len(rows) - len(stored)} rows share a {key} with another row"
    return stored


def assert_rows_unique(fetch: Fetch, dataset: str) -> None:
    """No table of the dataset (nested tables included) holds two copies of one row (``_dlt_id``)."""
    tables = [row[0] for row in fetch("SELECT table_name FROM information_schema.columns WHERE "
                                      f"table_schema = '{dataset}' AND column_name = '_dlt_id'")]
    assert tables, f"no tables in {dataset}"
    for table in tables:
        copies = fetch(f'SELECT count(*) - count(DISTINCT _dlt_id) FROM {dataset}."{table}"')[0][0]
        assert copies == 0, f"{dataset}.{table}: {copies} duplicate rows"


def _check(table: str, stored: dict, live: dict[Any, dict], listed_deleted: set, columns: tuple[str, ...]) -> None:
    live_stored = {k for k, row in stored.items() if not row[0]}
    assert live_stored == set(live), (f"{table}: live in the warehouse but not in the CRM "
                                      f"{sorted(live_stored - set(live), key=str)[:10]}; missing "
                                      f"{sorted(set(live) - live_stored, key=str)[:10]}")
    for key, row in stored.items():
        if row[0]:
            assert row[1] is not None, f"{table} {key}: is_deleted without deleted_at"
    missing = listed_deleted - set(stored)
    assert not missing, f"{table}: rows listed deleted by the CRM are not in the warehouse: {sorted(missing)[:10]}"
    for key in listed_deleted:
        assert stored[key][0], f"{table} {key}: deleted in the CRM, live in the warehouse"
    for key, want in live.items():
        got = stored[key][2:]
        for column, value, stored_value in zip(columns, (want.get(c) for c in columns), got):
            assert _same(value, stored_value), f"{table} {key}.{column}: CRM {value!r}, warehouse {stored_value!r}"


def pipedrive_rows(sb, table: str) -> list[dict]:
    """The CRM's current rows of a warehouse table, in the pipeline's row shape (children: with deal_id)."""
    source, _ = PIPEDRIVE[table]
    rows = sb.live(source)
    if table == "dealflow":
        return [row for row in (shapes.flow_event(item, None) for item in rows) if row is not None]
    if table == "deal_participants":
        return [shapes.participant(row, None) for row in rows]
    return rows


def assert_pipedrive_exact(sb, fetch: Fetch, dataset: str = "pipedrive", tables: tuple[str, ...] = ()) -> None:
    """Every table (or those of ``tables``) holds the CRM's rows, once each."""
    assert_rows_unique(fetch, dataset)
    deleted_deals = {d["id"] for d in sb.live("deals") if d.get("is_deleted")}
    for table, (_, columns) in PIPEDRIVE.items():
        if tables and table not in tables:
            continue
        key = TABLES[table].primary_key
        rows = pipedrive_rows(sb, table)
        if TABLES[table].reads_per_deal:
            live = {r[key]: r for r in rows if r["deal_id"] not in deleted_deals}
            listed_deleted = {r[key] for r in rows if r["deal_id"] in deleted_deals}
        else:
            live = {r[key]: r for r in rows if not r.get("is_deleted")}
            listed_deleted = {r[key] for r in rows if r.get("is_deleted")}
        _check(table, _stored(fetch, dataset, table, key, columns), live, listed_deleted, columns)
    if tables and "custom_fields" not in tables:
        return
    names = {f["key"]: f["name"] for entity in ("deal", "person", "organization", "product", "activity")
             for f in sb.data.fields[entity] if f["edit_flag"]}
    stored = _stored(fetch, dataset, "custom_fields", "hash", ("name",))
    _check("custom_fields", stored, {k: {"name": v} for k, v in names.items()}, set(), ("name",))


def assert_hotprofile_exact(sb, fetch: Fetch, dataset: str = "hotprofile") -> None:
    assert_rows_unique(fetch, dataset)
    for table, columns in HOTPROFILE.items():
        live = {}
        for row in sb.expected(table):
            row = dict(row)
            row["updated_at"] = parse_jst(row["updated_at"])
            live[int(row["id"])] = row
        _check(table, _stored(fetch, dataset, table, "id", columns), live, set(), columns)
