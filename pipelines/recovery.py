"""Runs killed inside dlt's normalize or load step: the next run finishes their work, without copies.

A kill during the load step leaves a package half loaded. The next run loads it again, and dlt re-runs
each job whose completion it had not recorded yet. Merge de-duplicates staging rows by primary key, so
most tables are safe, except (reproduced in ``tests/test_load_kills.py``):

- the root table of a nested chain (a HotProfile lead and its ``leads__*`` lists): dlt's merge keeps the
  staging rows whose ``_dlt_id`` survived de-duplication, and a re-run job left two copies of each row
  there, with the same ``_dlt_id``;
- tables loaded without staging: ``--full-refresh`` of a per-deal table (truncate, then insert) and dlt's
  own ``_dlt_pipeline_state``.

The copies are identical, ``_dlt_id`` included. Before such a package loads again its tables are written
to a marker beside the pipeline's state; after the load each of them keeps one row per ``_dlt_id`` (one
transaction) and the marker goes. A kill during the repair leaves the marker: the next run repairs again.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
from typing import Any, Iterable

from dlt.destinations.exceptions import DatabaseUndefinedRelation

log = logging.getLogger("crm_elt.recovery")
MARKER = "crm_elt_interrupted_load.json"


def interrupted_tables(pipeline: Any) -> set[str]:
    """Tables of the normalized packages waiting to load (a load of them may have begun)."""
    tables: set[str] = set()
    for load_id in pipeline.list_normalized_load_packages():
        info = pipeline.get_load_package_info(load_id)
        for jobs in info.jobs.values():
            tables.update(job.job_file_info.table_name for job in jobs)
    return tables


def finish_pending(pipeline: Any) -> None:
    """Normalize and load what an earlier run left. A first load killed before its load created the
    dataset is loaded as is: dlt's ``run`` would take the missing dataset for a dropped one and wipe the
    package with the local state (the whole segment read again). Once a package has loaded here, a missing
    dataset was dropped: ``run`` starts over, as dlt intends."""
    finish_normalize_commit(pipeline)
    if pipeline.list_completed_load_packages():
        pipeline.run()
        return
    if pipeline.list_extracted_load_packages():
        pipeline.normalize()
    pipeline.load()


def finish_normalize_commit(pipeline: Any) -> None:
    """A kill while normalize commits a package ("do not kill this process", says dlt) can leave it
    normalized (an atomic rename) and still extracted, the extracted copy partly deleted; normalizing it
    again then fails, on every run. The normalized package is whole: the extracted copy goes, as dlt's
    commit would have done."""
    for load_id in pipeline.list_extracted_load_packages():
        if os.path.isdir(os.path.join(pipeline.working_dir, "load", "normalized", load_id)):
            shutil.rmtree(os.path.join(pipeline.working_dir, "normalize", "extracted", load_id))


def _marker(pipeline: Any) -> str:
    return os.path.join(pipeline.working_dir, MARKER)


def remember(pipeline: Any, tables: Iterable[str]) -> None:
    """Before a pending package loads: the tables to check afterwards (kept across a kill)."""
    names = sorted(set(tables) | set(pending_repair(pipeline)))
    if names:
        with open(_marker(pipeline), "w", encoding="utf-8") as handle:
            json.dump(names, handle)


def pending_repair(pipeline: Any) -> list[str]:
    try:
        with open(_marker(pipeline), encoding="utf-8") as handle:
            return list(json.load(handle))
    except (FileNotFoundError, ValueError):
        return []


def repair(pipeline: Any) -> int:
    """Keep one row per ``_dlt_id`` in each remembered table; returns the copies removed."""
    names = pending_repair(pipeline)
    if not names:
        return 0
    schema = pipeline.default_schema
    removed = 0
    with pipeline.sql_client() as client:
        for name in names:
            table = schema.tables.get(name)
            if not table or "_dlt_id" not in table.get("columns", {}):
                continue
            columns = [column for column, hints in table["columns"].items() if hints.get("data_type")]
            removed += _deduplicate(client, name, columns)
    os.remove(_marker(pipeline))
    if removed:
        log.warning("an interrupted load was finished: %d duplicate row%s removed", removed, "s" * (removed != 1))
    return removed


def _deduplicate(client: Any, name: str, columns: list[str]) -> int:
    table = client.make_qualified_table_name(name)
    row_key = client.escape_column_name("_dlt_id")
    copies = client.make_qualified_table_name(f"{name}__crm_elt_copies")
    names = ", ".join(client.escape_column_name(column) for column in columns)
    try:
        rows = client.execute_sql(f"SELECT count(*) - count(DISTINCT {row_key}) FROM {table}")
    except DatabaseUndefinedRelation:
        return 0                        # never created: its package had no rows for it
    extra = int(rows[0][0]) if rows else 0
    if not extra:
        return 0
    with client.begin_transaction():
        client.execute_sql(f"CREATE TABLE {copies} AS SELECT {names} FROM {table} WHERE {row_key} IN "
                           f"(SELECT {row_key} FROM {table} GROUP BY {row_key} HAVING count(*) > 1)")
        client.execute_sql(f"DELETE FROM {table} WHERE {row_key} IN (SELECT {row_key} FROM {copies})")
        client.execute_sql(f"INSERT INTO {table} ({names}) SELECT {names} FROM (SELECT {names}, ROW_NUMBER() "
                           f"OVER (PARTITION BY {row_key} ORDER BY {row_key}) AS crm_elt_n FROM {copies}) c "
                           "WHERE crm_elt_n = 1")
        client.execute_sql(f"DROP TABLE {copies}")
    return extra
