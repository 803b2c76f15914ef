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


def make_destination(name: str | None = None, duckdb_path: str | None = None) -> Any:
    """``duckdb`` (default) writes ``duckdb_path``; any other dlt destination name (postgres, bigquery,
    snowflake, motherduck, ...) is configured by dlt itself from ``[destination.<name>]`` or env vars."""
    if name in (None, "", "duckdb"):
        return dlt.destinations.duckdb(credentials=duckdb_path or DEFAULT_DUCKDB)
    if name in UNIQUE_ROW_KEYS:
        from dlt.common.destination.reference import Destination

        return Destination.from_reference(name, create_indexes=False)
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
