"""Destination names → dlt destinations (DuckDB, a local file, is the default), and where each
warehouse's local run state lives."""
from __future__ import annotations

import hashlib
import os
from typing import Any

import dlt

DEFAULT_DUCKDB = "crm.duckdb"
# Destinations where dlt's create_indexes (default on) makes _dlt_id UNIQUE: a load job that runs again
# after a kill (pipelines/recovery.py) would then fail on its own rows, on every later run.
UNIQUE_ROW_KEYS = ("postgres", "mssql", "synapse")
# dlt loads DuckDB and PostgreSQL from insert_values files, as INSERT ... VALUES statements of up to half of
# max_query_length (dlt's default: 32 MiB) that the client holds several copies of and DuckDB parses whole
# (~45 bytes of memory per byte of SQL: 700 MB for one 16 MiB statement), with 20 load jobs in parallel:
# memory grew with the data. Statements of at most 256 KiB on DuckDB (in-process; 512 KiB on Postgres), four
# jobs at a time, keep a load's memory flat whatever the data size (bench/bench_memory.py: 10k deals 408 MiB,
# was 2,073). Fewer jobs save memory (two: 353 MiB; one: 240) but slow every small load (one: ~2 s more:
# dlt closes and reopens the DuckDB file between jobs when none overlaps). What grows with the data is the
# merge of a segment's rows: sources._incremental.SEGMENT_ROWS bounds it (50k deals, lists: 635 → 344 MiB;
# jobs 2 or a DuckDB memory_limit of 256 MB changed little: 638, 571).
LOAD_CAPS: dict[str, dict[str, int]] = {
    "duckdb": {"max_query_length": 512 * 1024, "max_parallel_load_jobs": 4},
    "postgres": {"max_query_length": 1024 * 1024},
}
# One DuckDB thread for the loader's connection: the merge of a segment's largest tables (window and hash
# operators) holds state per thread; 2 threads took 215 MB at 50k deals, 1 thread 110 MB, in the same time.
DUCKDB_CONNECTION = {"threads": 1}


def make_destination(name: str | None = None, duckdb_path: str | None = None) -> Any:
    """``duckdb`` (default) writes ``duckdb_path``; any other dlt destination name (postgres, bigquery,
    snowflake, motherduck, ...) is configured by dlt itself from ``[destination.<name>]`` or env vars."""
    if name in (None, "", "duckdb"):
        from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

        credentials = DuckDbCredentials(duckdb_path or DEFAULT_DUCKDB, global_config=dict(DUCKDB_CONNECTION))
        return dlt.destinations.duckdb(credentials=credentials, **LOAD_CAPS["duckdb"])
    if name in UNIQUE_ROW_KEYS:
        from dlt.common.destination.reference import Destination

        return Destination.from_reference(name, create_indexes=False, **LOAD_CAPS.get(name, {}))
    return name


def state_dir(name: str | None = None, duckdb_path: str | None = None) -> str:
    """dlt's local working directory (pipeline state, locks, run logs) of one warehouse: a folder per
    warehouse under dlt's pipelines directory, so runs into different warehouses never share state,
    block each other or report each other's runs. dlt also keeps the state in the warehouse itself."""
    from dlt.common.pipeline import get_dlt_pipelines_dir

    return os.path.join(get_dlt_pipelines_dir(), "crm-elt", warehouse_key(name, duckdb_path))


def warehouse_key(name: str | None, duckdb_path: str | None) -> str:
    """``duckdb-<file>-<hash of its absolute path>``, or ``<destination>-<hash of host and database>``
    (no secret goes into it)."""
    if name in (None, "", "duckdb"):
        path = os.path.realpath(duckdb_path or DEFAULT_DUCKDB)
        return f"duckdb-{os.path.basename(path)}-{_digest(path)}"
    return f"{name}-{_digest(_where(name))}"


def _where(name: str) -> str:
    """The configured host/database/project of destination ``name`` ("" when it is not configured)."""
    try:
        from dlt.common.destination.reference import Destination

        destination = Destination.from_reference(name)
        config = destination.configuration(destination.spec(), accept_partial=True)
    except Exception:
        return ""
    credentials = getattr(config, "credentials", None)
    parts = [getattr(credentials, attribute, None) for attribute in ("host", "port", "database", "project_id")]
    return "/".join(str(part) for part in parts if part)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:10]
