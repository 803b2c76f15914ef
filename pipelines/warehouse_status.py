"""Run history and a ``status`` view inside each dataset, so analysts can ``SELECT * FROM pipedrive.status``.

``<dataset>._crm_elt_runs`` gets one row per table per run, appended with plain SQL (created with the
destination's column types; a companion dlt pipeline ``<pipeline>_runs`` where that fails), so it never
mixes with the source pipeline's pending packages or state.
``<dataset>.status`` is recreated after each run: per table, the last run (failed or not), the last
successful run, its cursor and rows, total rows in the warehouse and the age of the last success.
"""
from __future__ import annotations

import logging
import time
import uuid
from typing import Any, Iterable

import dlt

RUNS_TABLE = "_crm_elt_runs"
STATUS_VIEW = "status"
log = logging.getLogger("crm_elt.status")
COLUMNS = {"dataset": "text", "table_name": "text", "started_at": "timestamp", "finished_at": "timestamp",
           "ok": "bool", "error": "text", "rows_loaded": "bigint", "requests": "bigint", "tokens": "bigint",
           "seconds": "double", "cursor_value": "text"}


def run_rows(run: dict[str, Any], dataset: str) -> list[dict[str, Any]]:
    return [{"dataset": dataset, "table_name": t["table"], "started_at": run["started_at"],
             "finished_at": run["finished_at"], "ok": t.get("ok", run["ok"]),
             "error": t.get("error", run.get("error")),
             "rows_loaded": t["rows"], "requests": t["requests"], "tokens": t["tokens"],
             "seconds": t["seconds"], "cursor_value": t.get("cursor")} for t in run["tables"]]


def append_directly(client: Any, rows: list[dict[str, Any]]) -> bool:
    """One INSERT per run row into the existing history table (a whole dlt load per run costs ~1 s);
    False when the table does not exist yet or the warehouse refuses."""
    from datetime import datetime

    if not rows:
        return True
    load_id = f"{time.time():.6f}"
    names = [*COLUMNS, "_dlt_load_id", "_dlt_id"]
    columns = ", ".join(client.escape_column_name(name) for name in names)
    sql = (f"INSERT INTO {client.make_qualified_table_name(RUNS_TABLE)} ({columns}) "
           f"VALUES ({', '.join(['%s'] * len(names))})")
    inserted = 0
    try:
        for row in rows:
            values = [datetime.fromisoformat(row[name]) if COLUMNS[name] == "timestamp" and row[name] else row[name]
                      for name in COLUMNS]
            client.execute_sql(sql, *values, load_id, uuid.uuid4().hex[:14])
            inserted += 1
    except Exception:
        if inserted:            # never append the same run twice
            log.warning("run history: %d of %d rows recorded", inserted, len(rows))
        return inserted > 0
    return True


def create_directly(client: Any) -> bool:
    """The history table, created with the destination's own column types (the first run into a dataset;
    a companion dlt load costs ~0.5 s more)."""
    try:
        mapper = client.capabilities.get_type_mapper()

        def kind(name: str, data_type: str) -> str:
            return mapper.to_destination_type({"name": name, "data_type": data_type, "nullable": True},
                                              {"name": RUNS_TABLE})

        columns = [f"{client.escape_column_name(name)} {kind(name, data_type)}" for name, data_type in COLUMNS.items()]
        columns += [f"{client.escape_column_name(name)} {kind(name, 'text')} NOT NULL" for name in ("_dlt_load_id", "_dlt_id")]
        client.execute_sql(f"CREATE TABLE IF NOT EXISTS {client.make_qualified_table_name(RUNS_TABLE)} "
                           f"({', '.join(columns)})")
        return True
    except Exception as exc:
        log.debug("cannot create %s directly (%s); loading it with dlt", RUNS_TABLE, type(exc).__name__)
        return False


def status_view_sql(client: Any, tables: Iterable[str]) -> str:
    runs = client.make_qualified_table_name(RUNS_TABLE)
    totals = " UNION ALL ".join(
        f"SELECT '{name}' AS table_name, count(*) AS rows_total FROM {client.make_qualified_table_name(name)}"
        for name in tables) or "SELECT CAST(NULL AS VARCHAR(64)) AS table_name, CAST(0 AS BIGINT) AS rows_total"
    latest = ("SELECT *, row_number() OVER (PARTITION BY table_name ORDER BY finished_at DESC) AS n "
              f"FROM {runs}")
    return f"""CREATE VIEW {client.make_qualified_table_name(STATUS_VIEW)} AS
WITH last_run AS ({latest}), last_ok AS ({latest} WHERE ok), totals AS ({totals})
SELECT r.table_name, s.cursor_value, s.finished_at AS last_success, s.rows_loaded AS rows_last_run,
       t.rows_total, CURRENT_TIMESTAMP - s.finished_at AS freshness, NOT r.ok AS last_run_failed, r.error
FROM last_run r
LEFT JOIN (SELECT * FROM last_ok WHERE n = 1) s ON s.table_name = r.table_name
LEFT JOIN totals t ON t.table_name = r.table_name
WHERE r.n = 1"""


def record_in_warehouse(source_pipeline: Any, run: dict[str, Any], loaded_tables: Iterable[str]) -> None:
    """Append ``run`` to ``_crm_elt_runs`` and recreate the ``status`` view; best effort (logged, not raised)."""
    try:
        rows = run_rows(run, source_pipeline.dataset_name)
        with source_pipeline.sql_client() as client:
            appended = append_directly(client, rows) or (create_directly(client) and append_directly(client, rows))
        if not appended:        # a warehouse without plain DDL/INSERTs: dlt creates the table and loads
            runs = dlt.pipeline(pipeline_name=f"{source_pipeline.pipeline_name}_runs",
                                pipelines_dir=source_pipeline.pipelines_dir,
                                destination=source_pipeline.destination, dataset_name=source_pipeline.dataset_name)
            runs.run(rows, table_name=RUNS_TABLE, write_disposition="append",
                     columns={name: {"data_type": kind, "nullable": True} for name, kind in COLUMNS.items()})
        with source_pipeline.sql_client() as client:
            client.execute_sql(f"DROP VIEW IF EXISTS {client.make_qualified_table_name(STATUS_VIEW)}")
            client.execute_sql(status_view_sql(client, loaded_tables))
    except Exception as exc:          # the load itself succeeded; the history is a convenience
        log.warning("could not record the run in %s.%s: %s", source_pipeline.dataset_name, RUNS_TABLE,
                    str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
