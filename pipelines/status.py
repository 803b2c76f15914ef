"""`crm-elt status`: every registry table of every source, from the local run log, the dlt pipeline state
and the warehouse's row counts. Never-run sources and an unreachable or locked warehouse are shown as such."""
from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any, Iterable

from pipelines.lock import pipelines_dir
from pipelines.runlog import last_run, read_runs
from pipelines.runner import Target, dataset_name, pipeline_name
from sources import contracts

HEADER = ("table", "cursor", "last_success", "rows_last_run", "rows_total", "freshness", "last_run")
NEVER = "never run"


def status_rows(target: Target, account: str | None = None, now: datetime | None = None) -> list[tuple]:
    now = now or datetime.now(timezone.utc)
    rows = []
    for source, contract in contracts().items():
        name, dataset = pipeline_name(source, account), dataset_name(source, account)
        runs = read_runs(target.pipelines_dir, name)
        if not runs:                 # no local run log (another machine, an orchestrator, the demo)
            view = warehouse_view(target, source, account)
            if view:
                rows += [view_row(dataset, table, view.get(table), now) for table in contract.tables]
                continue
        cursors = stored_cursors(target, name, source)
        totals = warehouse_totals(target, source, account, contract.tables) if runs else {}
        for table in contract.tables:
            ok, latest = last_run(runs, table, ok_only=True), last_run(runs, table)
            finished = datetime.fromisoformat(ok[0]["finished_at"]) if ok else None
            rows.append((f"{dataset}.{table}", cursors.get(table) or "-",
                         finished.strftime("%Y-%m-%d %H:%M:%S UTC") if finished else NEVER,
                         ok[1]["rows"] if ok else "-", totals.get(table, "-") if totals is not None else "locked",
                         age(now - finished) if finished else "-", outcome(latest)))
    return rows


def warehouse_view(target: Target, source: str, account: str | None) -> dict[str, tuple]:
    """Rows of the dataset's ``status`` view by table; {} when it does not exist or is out of reach."""
    sql = ("SELECT table_name, cursor_value, last_success, rows_last_run, rows_total, last_run_failed, error "
           "FROM {dataset}.status")
    try:
        if target.is_duckdb:
            import duckdb

            if not os.path.exists(target.duckdb_file):
                return {}
            with duckdb.connect(target.duckdb_file, read_only=True) as con:
                found = con.execute(sql.format(dataset=f'"{dataset_name(source, account)}"')).fetchall()
        else:
            with target.pipeline(source, account).sql_client() as client:
                found = client.execute_sql(sql.format(dataset=client.fully_qualified_dataset_name()))
    except Exception:
        return {}
    return {row[0]: row[1:] for row in found}


def view_row(dataset: str, table: str, found: tuple | None, now: datetime) -> tuple:
    if not found:
        return (f"{dataset}.{table}", "-", NEVER, "-", "-", "-", NEVER)
    cursor, finished, rows_last, total, failed, error = found
    if finished is not None and finished.tzinfo is None:
        finished = finished.replace(tzinfo=timezone.utc)
    return (f"{dataset}.{table}", cursor or "-",
            finished.strftime("%Y-%m-%d %H:%M:%S UTC") if finished else NEVER,
            rows_last if rows_last is not None else "-", total if total is not None else "-",
            age(now - finished) if finished else "-", f"FAILED: {error}" if failed else "ok")


def outcome(latest: tuple[dict, dict] | None) -> str:
    if latest is None:
        return NEVER
    run, entry = latest
    ok, error = entry.get("ok", run.get("ok")), entry.get("error", run.get("error"))
    if ok and entry.get("complete") is False:
        return f"stopped: {run.get('stopped')}; the next run continues"
    return "ok" if ok else f"FAILED: {error or 'unknown error'}"


def age(delta: Any) -> str:
    seconds = max(0, int(delta.total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def stored_cursors(target: Target, name: str, source: str) -> dict[str, str]:
    """Cursors from the local dlt state: state["sources"][source]["resources"][table]["cursor"], and the
    deals queued for each per-deal table."""
    if not os.path.isdir(os.path.join(pipelines_dir(target.pipelines_dir), name)):
        return {}
    import dlt

    state = dlt.attach(pipeline_name=name, pipelines_dir=target.pipelines_dir).state
    source_state = state.get("sources", {}).get(source, {})
    resources = source_state.get("resources", {})
    cursors = {table: value["cursor"] for table, value in resources.items() if value.get("cursor")}
    # per-deal tables: the deals still to read (a run stopped by a cap or the budget continues with them)
    for table, queue in source_state.get("deal_queue", {}).items():
        if queue:
            cursors[table] = f"{cursors.get(table, '-')} ({len(queue)} deals queued)"
    return cursors


def warehouse_totals(target: Target, source: str, account: str | None, tables: Iterable[str]) -> dict | None:
    """Rows per existing table; None when the DuckDB file is locked by a load; {} when unreachable."""
    from destinations.duckdb_lock import is_locked_error

    dataset = dataset_name(source, account)
    try:
        if target.is_duckdb:
            import duckdb

            if not os.path.exists(target.duckdb_file):
                return {}
            with duckdb.connect(target.duckdb_file, read_only=True) as con:
                return count_rows(lambda sql: con.execute(sql).fetchall(), f'"{dataset}"', tables)
        with target.pipeline(source, account).sql_client() as client:
            prefix = client.fully_qualified_dataset_name()
            return count_rows(client.execute_sql, prefix, tables)
    except Exception as exc:
        return None if is_locked_error(exc) else {}


def count_rows(execute: Any, qualified_dataset: str, tables: Iterable[str]) -> dict[str, int]:
    counts = {}
    for table in tables:
        try:
            counts[table] = execute(f'SELECT count(*) FROM {qualified_dataset}."{table}"')[0][0]
        except Exception:
            continue            # not loaded yet
    return counts
