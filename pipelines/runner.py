"""Run orchestration: settings → dlt source → dlt pipeline → per-table summary."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Iterable

import dlt
from dlt.pipeline.exceptions import PipelineStepFailed

from destinations import make_destination
from pipelines.config import SETTINGS
from sources._http import ApiClient, ApiError, ConfigError, CrmEltError, redact
from sources._incremental import RunContext, Window
from sources.hotprofile import hotprofile_source
from sources.hotprofile.settings import TABLES as HOTPROFILE_TABLES
from sources.pipedrive import pipedrive_source
from sources.pipedrive.settings import TABLES as PIPEDRIVE_TABLES

REGISTRIES = {"pipedrive": PIPEDRIVE_TABLES, "hotprofile": HOTPROFILE_TABLES}
BUILDERS = {"pipedrive": pipedrive_source, "hotprofile": hotprofile_source}

# One resource at a time: the pacer sees requests in order and per-table timing is meaningful.
os.environ.setdefault("EXTRACT__NEXT_ITEM_MODE", "fifo")


class LoadError(CrmEltError):
    exit_code = 1


@dataclass
class TableSummary:
    table: str
    rows: int
    requests: int
    tokens: int
    seconds: float = 0.0


@dataclass
class RunResult:
    source: str
    dataset: str
    tables: list[TableSummary] = field(default_factory=list)
    seconds: float = 0.0
    stopped: str | None = None


@dataclass
class Target:
    """Where a run loads: a dlt destination plus the pipeline working directory."""

    destination: str | None = None          # None/"duckdb" → local DuckDB file
    duckdb_path: str | None = None
    pipelines_dir: str | None = None

    def pipeline(self, source: str, account: str | None) -> Any:
        suffix = f"_{account}" if account else ""
        return dlt.pipeline(pipeline_name=f"crm_elt_{source}{suffix}", dataset_name=f"{source}{suffix}",
                            destination=make_destination(self.destination, self.duckdb_path),
                            pipelines_dir=self.pipelines_dir)


def select_tables(source: str, tables: Iterable[str] | None) -> list[str] | None:
    registry = REGISTRIES[source]
    names = [t for t in (tables or []) if t]
    unknown = [t for t in names if t not in registry]
    if unknown:
        raise ConfigError(f"unknown {source} table(s): {', '.join(unknown)}; choose from {', '.join(registry)}")
    return names or None


def run_source(source: str, target: Target, *, tables: Iterable[str] | None = None, account: str | None = None,
               window: Window | None = None, full_refresh: Iterable[str] = (),
               settings: Any = None, client: ApiClient | None = None) -> RunResult:
    """Extract, normalize and load one source; the cursors move only when the load succeeds."""
    names = select_tables(source, tables)
    select_tables(source, full_refresh)
    settings = settings or SETTINGS[source](account)
    ctx = RunContext(window=window, full_refresh=frozenset(full_refresh))
    dlt_source = BUILDERS[source](settings, ctx, names, client)
    pipeline = target.pipeline(source, account)
    started = time.monotonic()
    try:
        pipeline.run(dlt_source)
    except PipelineStepFailed as exc:
        raise _root_cause(exc) from None
    result = RunResult(source, pipeline.dataset_name, seconds=time.monotonic() - started, stopped=ctx.stopped)
    counts = pipeline.last_trace.last_normalize_info.row_counts if pipeline.last_trace.last_normalize_info else {}
    for name in names or REGISTRIES[source]:
        stats = dlt_source.client.stats.get(name)
        rows = counts.get(name, 0)
        result.tables.append(TableSummary(name, rows, stats.requests if stats else 0, stats.tokens if stats else 0,
                                          ctx.seconds.get(name, 0.0)))
    return result


def _root_cause(exc: BaseException) -> CrmEltError:
    """dlt wraps errors raised in resources; surface ours (already one line, secret-free)."""
    seen = exc
    while seen is not None:
        if isinstance(seen, CrmEltError):
            return seen
        seen = seen.__cause__ or seen.__context__
    step = getattr(exc, "step", "run")
    detail = redact(str(exc.__cause__ or exc)).splitlines()[0] if str(exc.__cause__ or exc) else type(exc).__name__
    return LoadError(f"{step} step failed: {detail}")


__all__ = ["ApiError", "LoadError", "RunResult", "Target", "run_source"]
