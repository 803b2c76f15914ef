"""`crm-elt sql`: one query against the warehouse. DuckDB is opened read-only; other destinations go
through the dlt pipeline's ``sql_client()`` (their credentials decide what the query may do)."""
from __future__ import annotations

from typing import Any

from destinations.duckdb_lock import connect
from pipelines.runner import Target
from sources import PACKAGES


def run_query(target: Target, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    if target.is_duckdb:
        with connect(target.duckdb_file, read_only=True, timeout=target.lock_timeout, on_wait=target.on_wait) as con:
            cursor = con.execute(sql)
            return [d[0] for d in cursor.description or []], cursor.fetchall()
    with target.pipeline(PACKAGES[0], None).sql_client() as client:       # any dataset: queries name theirs
        with client.execute_query(sql) as cursor:
            native = cursor.native_cursor
            return [d[0] for d in native.description or []], list(native.fetchall()) if native.description else []
