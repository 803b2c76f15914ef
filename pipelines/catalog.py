"""The table registries as rows, for `crm-elt tables` and the README."""
from __future__ import annotations

from sources.hotprofile.settings import TABLES as HOTPROFILE
from sources.pipedrive.settings import TABLES as PIPEDRIVE


def catalog_rows() -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = [("dataset", "table", "endpoint", "key", "mode")]
    for table in PIPEDRIVE.values():
        mode = f"CDC on {table.cursor_field}, merge" if table.mode == "cdc" else "full table, replace"
        rows.append(("pipedrive", table.name, " + ".join(f"GET {e.path}" for e in table.endpoints),
                     table.primary_key, mode))
    for table in HOTPROFILE.values():
        rows.append(("hotprofile", table.name, f"POST {table.path}", "id",
                     f"CDC on updated_at via {table.since_param}, merge"))
    return rows
