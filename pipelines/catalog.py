"""The table registries of every source as rows, for `crm-elt tables` and the README (a test keeps them in sync)."""
from __future__ import annotations

from sources import contracts


def catalog_rows() -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = [("dataset", "table", "endpoint", "key", "mode", "deletes")]
    for name, contract in contracts().items():
        rows += [(name, *row) for row in contract.catalog()]
    return rows
