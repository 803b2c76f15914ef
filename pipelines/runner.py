"""Run orchestration: settings → dlt source → dlt pipeline → per-table summary."""
from __future__ import annotations

import os
import sys
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Iterator

import dlt
from dlt.common.configuration.exceptions import ConfigFieldMissingException
from dlt.common.exceptions import MissingDependencyException
from dlt.pipeline.exceptions import PipelineStepFailed

from destinations import make_destination, state_dir
from destinations.duckdb_lock import DEFAULT_LOCK_TIMEOUT, DuckDBLocked, publish, retry_while_locked
from pipelines.accounts import check_account
from pipelines.lock import pipeline_lock
from pipelines import recovery
from pipelines.progress import show_progress
from pipelines.runlog import append_run
from pipelines.views import create_views
from pipelines.warehouse_status import record_in_warehouse
from sources._errors import ApiError, ConfigError, CrmEltError
from sources._history import with_history
from sources._redact import redact
from sources._http import ApiClient
from sources._incremental import RunContext, Window
from sources._stats import RunStats
from sources import account_source, contracts

NEXT_ITEM_MODE = "extract.next_item_mode"


@contextmanager
def one_resource_at_a_time() -> Iterator[None]:
    """dlt's fifo extraction for the duration of a run, through dlt's run-scoped config (no environment
    variable, nothing at import): one table at a time, so per-table timing is meaningful (the sources are
    exact in either mode). A mode the user configured is respected."""
    if dlt.config.get(NEXT_ITEM_MODE) is not None:
        yield
        return
    with dlt.config.values({NEXT_ITEM_MODE: "fifo"}):
        yield


class LoadError(CrmEltError):
    exit_code = 1


class DestinationConfigError(ConfigError):
    """The warehouse is not (fully) configured."""


@dataclass
class TableSummary:
    table: str
    rows: int
    requests: int
    tokens: int | None                      # None: the API has no token costs (HotProfile counts calls)
    seconds: float = 0.0


@dataclass
class RunResult:
    source: str
    dataset: str
    tables: list[TableSummary] = field(default_factory=list)
    seconds: float = 0.0
    stopped: str | None = None              # why later tables were skipped (budget, interrupt)
    stop_code: int = 0                      # its exit code
    completed: list[str] = field(default_factory=list)   # tables read to the end (cursors committed)
    failed: dict[str, str] = field(default_factory=dict)  # tables whose endpoint failed: {table: reason}


@dataclass
class Target:
    """Where a run loads: a dlt destination plus the pipeline working directory."""

    destination: str | None = None          # None/"duckdb" → local DuckDB file
    duckdb_path: str | None = None
    pipelines_dir: str | None = None
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT   # seconds to wait for a DuckDB file another process holds
    publish: str | None = None              # DuckDB only: after each successful run, copy the file here
    progress: str = "off"                   # "live" (a terminal), "lines" (every 30 s), "off": pipelines.progress
    prefix: str = "crm_elt"                 # pipeline names (state) are <prefix>_<dataset>; the demo has its own
    on_wait: Callable[[str], None] = lambda message: print(f"crm-elt: {message}", file=sys.stderr)

    def __post_init__(self) -> None:
        # state, locks and run logs belong to the warehouse, not to the machine (see destinations.state_dir)
        self.pipelines_dir = self.pipelines_dir or state_dir(self.destination, self.duckdb_path)

    @property
    def is_duckdb(self) -> bool:
        return self.destination in (None, "", "duckdb")

    @property
    def duckdb_file(self) -> str:
        return make_destination(None, self.duckdb_path).config_params["credentials"].database

    def pipeline(self, source: str, account: str | None) -> Any:
        return dlt.pipeline(pipeline_name=pipeline_name(source, account, self.prefix),
                            dataset_name=dataset_name(source, account),
                            destination=make_destination(self.destination, self.duckdb_path),
                            pipelines_dir=self.pipelines_dir)


def pipeline_name(source: str, account: str | None, prefix: str = "crm_elt") -> str:
    return f"{prefix}_{dataset_name(source, account)}"


def dataset_name(source: str, account: str | None) -> str:
    return f"{source}_{account}" if account else source


def select_tables(source: str, tables: Iterable[str] | None) -> list[str] | None:
    registry = contracts()[source].tables
    names = [t for t in (tables or []) if t]
    unknown = [t for t in names if t not in registry]
    if unknown:
        raise ConfigError(f"unknown {source} table(s): {', '.join(unknown)}; choose from {', '.join(registry)}")
    return names or None


def run_source(source: str, target: Target, *, tables: Iterable[str] | None = None, account: str | None = None,
               window: Window | None = None, full_refresh: Iterable[str] = (), reconcile: bool = False,
               settings: Any = None, client: ApiClient | None = None) -> RunResult:
    """Extract, normalize and load one source; the cursors move only when the load succeeds.

    Raises ``RunLocked`` (exit 3) at once when another run of the same pipeline holds its lock.
    """
    contract = contracts()[source]
    if settings is None:
        check_account(source, account)
    names = select_tables(source, tables) or list(contract.tables)
    select_tables(source, full_refresh)
    ctx = RunContext(window=window, full_refresh=frozenset(full_refresh), reconcile=reconcile, checkpoints=True)
    stats = client.stats if client else RunStats()

    def build(selected: list[str]) -> Any:
        built = account_source(source, account, settings=settings, ctx=ctx, client=client, stats=stats)
        if selected == list(contract.tables):
            return built
        return built.with_resources(*with_history(selected, built.resources))    # their <table>_history too

    dlt_source = build(names)
    if target.is_duckdb:
        folder = os.path.dirname(os.path.abspath(target.duckdb_file))
        if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
            raise ConfigError(f"cannot write the DuckDB file {target.duckdb_file}: the folder {folder} "
                              f"{'is not writable' if os.path.isdir(folder) else 'does not exist'}")
        refuse_mixing(target.duckdb_file, dataset_name(source, account), target.prefix)
    with pipeline_lock(target.pipelines_dir, pipeline_name(source, account, target.prefix)):
        try:
            pipeline = target.pipeline(source, account)
        except MissingDependencyException as exc:
            raise _driver_missing(exc) from None
        except Exception as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"cannot set up destination {target.destination or 'duckdb'!r}: "
                              f"{redact(message)}") from None
        started_at, started = _utcnow(), time.monotonic()
        error: CrmEltError | None = None
        counts: Counter[str] = Counter()
        try:
            with one_resource_at_a_time(), show_progress(target.progress, stats, lambda: paced_rate(ctx),
                                                                       tokens=contract.token_costs):
                counts.update(_load(pipeline, dlt_source, target))
                while stats.checkpoint:
                    # the segment's rows and state are loaded: a kill from here on loses at most one segment
                    stats.stopped, stats.checkpoint = None, False
                    ctx.next_segment(stats.completed)
                    # failed tables are not read again in this run (their endpoint already failed for good)
                    dlt_source = build([name for name in names if name not in stats.completed and name not in stats.failed])
                    counts.update(_load(pipeline, dlt_source, target))
        except PipelineStepFailed as exc:
            error = _root_cause(exc)
        except CrmEltError as exc:
            error = exc
        result = RunResult(source, pipeline.dataset_name, seconds=time.monotonic() - started, stopped=stats.stopped,
                           stop_code=stats.stop_code, completed=[name for name in names if name in stats.completed],
                           failed={name: stats.failed[name] for name in names if name in stats.failed})
        for name in names:
            table = stats[name]
            result.tables.append(TableSummary(name, counts.get(name, 0), table.requests,
                                              table.tokens if contract.token_costs else None, table.seconds))
            scan = stats.get(f"{name} (reconcile)")
            if scan and scan.requests:      # the id scan's cost, on a line of its own
                result.tables.append(TableSummary(f"{name} (reconcile)", 0, scan.requests,
                                                  scan.tokens if contract.token_costs else None))
        if result.failed and error is None:
            error = TablesFailed(result.failed, result)
        _record(pipeline, target, result, started_at, error)
        if error:
            raise error from None
        if target.publish and target.is_duckdb:
            publish(target.duckdb_file, target.publish, target.lock_timeout, target.on_wait)
        return result


class TablesFailed(ApiError):
    """Tables whose endpoint failed; every other table of the run loaded and moved on."""

    def __init__(self, failed: dict[str, str], result: RunResult):
        super().__init__("; ".join(f"{table}: {reason}" for table, reason in failed.items()))
        self.failed, self.result = failed, result


def reach_warehouse(target: Target) -> None:
    """Connect to a (non-DuckDB) warehouse once; a ``DestinationConfigError`` naming it when that fails."""
    source = next(iter(contracts()))
    try:
        with target.pipeline(source, None).sql_client() as client:
            client.execute_sql("SELECT 1")
    except MissingDependencyException as exc:
        raise _driver_missing(exc) from None
    except ConfigFieldMissingException as exc:
        raise DestinationConfigError(_missing_destination_config(exc)) from None
    except Exception as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DestinationConfigError(f"cannot reach the {target.destination} warehouse: {redact(detail)}") from None


def paced_rate(ctx: RunContext) -> float | None:
    """Requests per second the run's client is paced to."""
    pacer = getattr(ctx.client, "pacer", None)
    return pacer.max_requests / pacer.window if pacer else None


def refuse_mixing(duckdb_file: str, dataset: str, prefix: str) -> None:
    """The demo's sandbox rows and real rows must never share a dataset: refuse with what to do."""
    import duckdb

    if not os.path.exists(duckdb_file):
        return
    try:
        with duckdb.connect(duckdb_file, read_only=True) as con:
            owners = {row[0] for row in con.execute(
                f'SELECT DISTINCT pipeline_name FROM "{dataset}"._dlt_pipeline_state').fetchall()}
    except duckdb.Error:
        return                       # no such dataset yet, or the file is busy: nothing to compare
    others = sorted(name for name in owners if name.startswith("crm_elt") and
                    name.startswith("crm_elt_demo") != prefix.startswith("crm_elt_demo"))
    if others:
        what = "the demo's sandbox data" if others[0].startswith("crm_elt_demo") else "data of real runs"
        raise ConfigError(f"{duckdb_file} already holds {what} in dataset {dataset}; use another file "
                          "(--duckdb PATH) or delete it")


def _load(pipeline: Any, dlt_source: Any, target: Target) -> dict[str, int]:
    """``pipeline.run``, waiting for a DuckDB file held by another process; returns rows per table.

    Packages an earlier run could not load are loaded first (dlt's ``run`` would load them and stop
    without reading the API), then freed of the copies a load killed half-way leaves (``recovery``). A lock met before extraction retries the whole run; one met at the load step
    retries only the load of the already normalized package (the API is not read twice).
    """
    def waiting(attempt: Callable[[], Any], before_retry: Callable[[], None] = lambda: None) -> Any:
        if not target.is_duckdb:
            return attempt()
        return retry_while_locked(attempt, target.duckdb_file, target.lock_timeout, target.on_wait, before_retry)

    if pipeline.has_pending_data:
        recovery.remember(pipeline, recovery.interrupted_tables(pipeline))
        waiting(lambda: recovery.finish_pending(pipeline))
    if recovery.pending_repair(pipeline):
        waiting(lambda: recovery.repair(pipeline))
    normalized: list[Any] = []

    def remember_normalize_info() -> None:
        normalized.append(pipeline.last_trace.last_normalize_info if pipeline.last_trace else None)

    def attempt() -> Any:
        return pipeline.load() if pipeline.list_normalized_load_packages() else pipeline.run(dlt_source)

    waiting(attempt, remember_normalize_info)
    info = pipeline.last_trace.last_normalize_info or next((i for i in reversed(normalized) if i), None)
    return _row_counts(info)


def _row_counts(info: Any) -> dict[str, int]:
    return dict(info.row_counts) if info else {}


def _record(pipeline: Any, target: Target, result: RunResult, started_at: datetime,
            error: CrmEltError | None) -> None:
    """Append the run to the local run log and, unless the warehouse is unreachable, to the warehouse."""
    resources = pipeline.state.get("sources", {}).get(result.source, {}).get("resources", {})
    run = {"started_at": started_at.isoformat(), "finished_at": _utcnow().isoformat(), "ok": error is None,
           "error": str(error) if error else None, "exit_code": error.exit_code if error else 0,
           "stopped": result.stopped,
           "tables": [{"table": t.table, "rows": t.rows, "requests": t.requests, "tokens": t.tokens,
                       "seconds": round(t.seconds, 3), "cursor": resources.get(t.table, {}).get("cursor"),
                       "complete": t.table in result.completed or not (result.stopped or t.table in result.failed),
                       # a failed endpoint fails its table only; the others of the run loaded
                       **({"ok": t.table not in result.failed, "error": result.failed.get(t.table)}
                          if isinstance(error, TablesFailed) else {})}
                      for t in result.tables]}
    append_run(target.pipelines_dir, pipeline.pipeline_name, run)
    if isinstance(error, (DuckDBLocked, LoadError, DestinationConfigError)):
        return                      # the warehouse is out of reach: the local log has it
    loaded = set(pipeline.default_schema.data_table_names()) if pipeline.default_schema_name else set()
    record_in_warehouse(pipeline, run, [name for name in contracts()[result.source].tables if name in loaded])
    if error is None or isinstance(error, TablesFailed):      # something loaded: views see its columns
        create_views(pipeline, result.source)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _root_cause(exc: BaseException) -> CrmEltError:
    """dlt wraps errors raised in resources; surface ours (already one line, secret-free)."""
    seen = exc
    while seen is not None:
        if isinstance(seen, CrmEltError):
            return seen
        if isinstance(seen, ConfigFieldMissingException):
            return DestinationConfigError(_missing_destination_config(seen))
        if isinstance(seen, MissingDependencyException):
            return _driver_missing(seen)
        seen = seen.__cause__ or seen.__context__
    step = getattr(exc, "step", "run")
    detail = redact(str(exc.__cause__ or exc)).splitlines()[0] if str(exc.__cause__ or exc) else type(exc).__name__
    return LoadError(f"{step} step failed: {detail}")


def _driver_missing(exc: MissingDependencyException) -> DestinationConfigError:
    needed = " ".join(f'"{dependency}"' for dependency in exc.dependencies)
    return DestinationConfigError(f"the destination's driver is not installed: pip install {needed}")


def _missing_destination_config(exc: Any) -> str:
    """dlt's multi-line 'missing field' report → one line naming what to set."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    nested = next((line for line in lines if line.startswith("field ")), "")
    tried = next((line.strip("()") for line in lines if line.startswith("(Environment Variables, DESTINATION__")), "")
    hint = f" (e.g. {tried.split(', ')[-1]})" if tried else ""
    return (f"destination configuration incomplete: {lines[0]} {nested}{hint}; set it in .dlt/secrets.toml "
            "or as an environment variable").replace("  ", " ")


__all__ = ["ApiError", "LoadError", "RunResult", "Target", "run_source"]
