"""The table registries as rows, for `crm-elt tables` and the README (a test keeps them in sync)."""
from __future__ import annotations

from sources.hotprofile.settings import TABLES as HOTPROFILE
from sources.pipedrive.settings import TABLES as PIPEDRIVE

PIPEDRIVE_MODES = {
    "cdc": "CDC on {cursor} (`updated_since`), merge",
    "cdc_desc": "CDC on {cursor}, newest first, stops at the cursor; merge",
    "full": "full table, replace",
    "fields": "full table, replace; names custom-field columns",
    "field_map": "built from the *_fields tables (no request), replace",
    "per_deal": "deals changed since the last run, one call each; {how}",
    "deal_batch": "deals changed since the last run, 100 per call; removed items deleted, merge",
}


def _pipedrive_mode(table) -> str:
    how = f"CDC on {table.cursor_field}, merge" if table.cursor_field else "removed rows deleted, merge"
    return PIPEDRIVE_MODES[table.mode].format(cursor=table.cursor_field, how=how)


def catalog_rows() -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = [("dataset", "table", "endpoint", "key", "mode")]
    for table in PIPEDRIVE.values():
        endpoint = " + ".join(f"GET {e.path}" for e in table.endpoints) or "-"
        rows.append(("pipedrive", table.name, endpoint, table.primary_key, _pipedrive_mode(table)))
    for table in HOTPROFILE.values():
        rows.append(("hotprofile", table.name, f"POST {table.path}", "id",
                     f"CDC on updated_at via {table.since_param}, merge"))
    return rows
