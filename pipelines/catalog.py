"""The table registries as rows, for `crm-elt tables` and the README (a test keeps them in sync)."""
from __future__ import annotations

from sources.hotprofile.tables import TABLES as HOTPROFILE
from sources.pipedrive.tables import TABLES as PIPEDRIVE

PIPEDRIVE_MODES = {
    "cdc": "CDC on {cursor} (`updated_since`), merge",
    "cdc_desc": "CDC on {cursor}, newest first, stops at the cursor; merge",
    "full": "full table, merge",
    "fields": "full table, merge; names custom-field columns",
    "field_map": "built from the *_fields tables (no request), merge",
    "per_deal": "deals changed since the last run, one call each; {how}",
    "deal_batch": "deals changed since the last run, 100 per call; merge",
}
FLAGS = {"is_deleted": "`is_deleted` in the list", "active_flag": "`active_flag = false`"}


def _pipedrive_mode(table) -> str:
    how = f"CDC on {table.cursor_field}, merge" if table.cursor_field else "merge"
    return PIPEDRIVE_MODES[table.mode].format(cursor=table.cursor_field, how=how)


def _pipedrive_deletes(table) -> str:
    """How a delete reaches the table (the README's "deletes" column)."""
    if table.reads_per_deal:
        return "with their deal; rows removed from a deal when it is next read"
    if table.mode in ("full", "fields", "field_map"):
        flagged = f"{FLAGS[table.deleted_flag]}, or " if table.deleted_flag else ""
        return f"{flagged}gone from the list: every run"
    if table.name == "deals":
        return "`is_deleted` (listed 30 days); purged: id scan"
    flagged = f"{FLAGS[table.deleted_flag]} when listed, else " if table.deleted_flag else ""
    return f"{flagged}id scan"


def catalog_rows() -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = [("dataset", "table", "endpoint", "key", "mode", "deletes")]
    for table in PIPEDRIVE.values():
        endpoint = " + ".join(f"GET {e.path}" for e in table.endpoints) or "-"
        rows.append(("pipedrive", table.name, endpoint, table.primary_key, _pipedrive_mode(table),
                     _pipedrive_deletes(table)))
    for table in HOTPROFILE.values():
        rows.append(("hotprofile", table.name, f"POST {table.path}", "id",
                     f"CDC on updated_at via {table.since_param}, merge", "id scan"))
    return rows
