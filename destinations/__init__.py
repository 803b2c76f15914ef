"""Destination names → dlt destinations. DuckDB (a local file) is the default."""
from __future__ import annotations

from typing import Any

import dlt

DEFAULT_DUCKDB = "crm.duckdb"


def make_destination(name: str | None = None, duckdb_path: str | None = None) -> Any:
    """``duckdb`` (default) writes ``duckdb_path``; any other dlt destination name (postgres, bigquery,
    snowflake, motherduck, ...) is configured by dlt itself from ``[destination.<name>]`` or env vars."""
    if name in (None, "", "duckdb"):
        return dlt.destinations.duckdb(credentials=duckdb_path or DEFAULT_DUCKDB)
    return name
