"""Cursor bookkeeping shared by both sources.

Both APIs filter with an *inclusive* lower bound (``updated_since`` / ``from_datetime_updated_on``), so a
run re-reads the rows stamped exactly at (or, with a lag, shortly before) the stored cursor. Rows are
skipped only when they are byte-identical to a row already loaded at that boundary (content hash), so
two different updates within the same second are never lost, and a no-change run loads nothing.
"""
from __future__ import annotations

import hashlib
import logging
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Iterator, MutableMapping

from sources._stats import RunStats

log = logging.getLogger("crm_elt.incremental")

UTC = timezone.utc


@dataclass
class Window:
    """A backfill window: rows updated in [start, end); the stored cursor is not read nor moved."""

    start: datetime
    end: datetime | None = None


# Rows a checkpoint segment reads at most (crm-elt runs): at 50k deals the first segment held every list
# (258k rows) and its load peaked at 635 MiB; the merge of a segment grows with its rows, not the run's
# (bench/bench_memory.py, 50k deals: lists 344 MiB; the whole first load, 39 segments, 442 MiB).
SEGMENT_ROWS = 25_000


@dataclass
class RunContext:
    """What one run asks of its tables (the answers go to ``sources._stats.RunStats``)."""

    window: Window | None = None
    full_refresh: frozenset[str] = frozenset()
    reconcile: bool = False               # also scan every id and mark rows gone from the API as deleted
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    # Checkpoints (the runner's, which loads and runs again): a segment stops before its next table, or a
    # per-deal table after its next deal, once ``checkpoint_minutes`` (the source's setting) have passed.
    checkpoints: bool = False
    clock: Callable[[], float] = time.monotonic
    started_at: datetime = field(init=False)
    checkpoint_minutes: float | None = field(default=None, init=False)
    segment_started: float | None = field(default=None, init=False)
    segment_tables: int = field(default=0, init=False)     # tables completed before this segment
    segment_rows: int = field(default_factory=lambda: SEGMENT_ROWS)   # a segment ends after this many rows
    rows_read: int = field(default=0, init=False)          # rows read by this segment
    client: Any = field(default=None, init=False)     # the run's HTTP client, kept across segments (its pacer)
    listed: set[str] = field(default_factory=set, init=False)   # parents listed for a backfill of children
    caps: Any = field(default=None, init=False)       # the source's TokenCaps (max_tokens_per_run / _per_day)
    settings: Any = field(default=None, init=False)   # the source's checked settings (``crm-elt plan`` reads them)
    spent_before: int | None = field(default=None, init=False)  # tokens spent earlier today (read once a run)

    def __post_init__(self) -> None:
        self.started_at = self.now()

    def checkpoint_due(self) -> bool:
        """``checkpoint_minutes`` have passed, or the segment holds ``segment_rows`` rows: the load step's
        memory (DuckDB merges a segment's rows per table) then stays flat whatever the data size."""
        if not (self.checkpoints and self.segment_started is not None):
            return False
        timed = (self.checkpoint_minutes is not None
                 and self.clock() - self.segment_started >= self.checkpoint_minutes * 60)
        return timed or bool(self.segment_rows and self.rows_read >= self.segment_rows)

    def arm_caps(self, source_state: MutableMapping[str, Any], stats: RunStats) -> None:
        """At the run's first table: give the client the tokens this run may spend; as each table ends,
        record the day's spend in the source state (it commits with the load)."""
        from sources._caps import record_spend, spent_today

        if self.spent_before is None:
            self.spent_before = spent_today(source_state, self.started_at)
            if self.caps is not None and self.client is not None:
                self.client.cap = self.caps.allowance(source_state, self.started_at)
                self.client.cap_rule = self.caps.describe(self.spent_before)
        record_spend(source_state, self.started_at, self.spent_before, stats.tokens)

    def next_segment(self, completed: Iterable[str]) -> None:
        """After a checkpoint: what the next segment of the run skips or must not redo."""
        self.full_refresh = self.full_refresh - frozenset(completed)
        self.segment_started = None


def row_hash(row: Any) -> str:
    return hashlib.blake2b(json.dumps(row, sort_keys=True, default=str).encode(), digest_size=12).hexdigest()


class Cursor:
    """Inclusive time cursor of one table, kept in its dlt resource state."""

    def __init__(self, state: MutableMapping[str, Any], *, table: str, ctx: RunContext,
                 start_date: datetime | None, lag: timedelta = timedelta(0), cap_at_run_start: bool = False):
        self.state, self.ctx, self.lag, self.cap = state, ctx, lag, cap_at_run_start
        self.table, self.unstamped = table, 0           # rows read without a cursor value
        self.backfill = ctx.window is not None
        if table in ctx.full_refresh:
            for key in ("cursor", "boundary", "resume"):
                state.pop(key, None)
        stored = state.get("cursor")
        self.stored = datetime.fromisoformat(stored) if stored and not self.backfill else None
        self.start_date = start_date
        self.boundary: set[str] = set(state.get("boundary", ())) if self.stored else set()
        self.max_seen = self.stored
        self.recent: dict[str, datetime] = {}

    @property
    def since(self) -> datetime | None:
        """Lower bound to ask the API for (inclusive)."""
        if self.backfill:
            return self.ctx.window.start
        if self.stored:
            return self.stored - self.lag
        return self.start_date

    @property
    def until(self) -> datetime | None:
        return self.ctx.window.end if self.backfill else None

    def is_new(self, when: datetime, row: Any) -> bool:
        """Track ``row`` and tell whether it still needs loading."""
        digest = row_hash(row)
        if self.max_seen is None or when > self.max_seen:
            self.max_seen = when
        self.recent[digest] = when
        return digest not in self.boundary

    def filter(self, rows: Iterable[Any], when: Callable[[Any], datetime | None]) -> Iterator[Any]:
        for row in rows:
            if self.keeps(when(row), row):
                yield row

    def keeps(self, stamp: datetime | None, row: Any) -> bool:
        """Whether ``row`` (stamped ``stamp``) still needs loading; a row without a stamp always does
        (counted: ``commit`` warns about them)."""
        if stamp is None:
            self.unstamped += 1
            return True
        return self.is_new(stamp, row)

    def commit(self) -> None:
        """Store the new cursor (not in a backfill); readers call it once their whole scan is done."""
        if self.unstamped:
            log.warning("%s: %d row(s) came without their update time; loaded (a later change shows only "
                        "once the API stamps it)", self.table, self.unstamped)
        if self.backfill:
            return
        self.state.pop("resume", None)
        if self.max_seen is None:
            return
        cursor = self.max_seen
        if self.cap:
            cursor = min(cursor, self.ctx.started_at)
        # the APIs stamp and filter in whole seconds: a cursor inside a second (the run's start) would
        # leave that second's rows out of the boundary, and the next run would load them (and queue their
        # deals' children) again
        cursor = cursor.replace(microsecond=0)
        floor = cursor - self.lag
        self.state["cursor"] = cursor.isoformat()
        self.state["boundary"] = sorted(d for d, when in self.recent.items() if when >= floor)

    def save_position(self, **position: Any) -> None:
        """A checkpoint inside a scan: where the next segment goes on (``position``), and the newest
        stamp and rows near it seen so far, so the cursor and boundary committed at the end cover them."""
        floor = self.max_seen - self.lag if self.max_seen else None
        self.state["resume"] = {**position, "since": _iso(self.since), "max_seen": _iso(self.max_seen),
                                "recent": {digest: when.isoformat() for digest, when in self.recent.items()
                                           if floor and when >= floor}}

    def resume(self) -> dict[str, Any] | None:
        """The position saved by an interrupted scan of the same window (None: start over). Rows it saw
        near its newest stamp count as seen: they are not loaded again."""
        resume = self.state.get("resume")
        if not resume or resume.get("since") != _iso(self.since):
            self.state.pop("resume", None)
            return None
        if resume.get("max_seen"):
            seen_before = datetime.fromisoformat(resume["max_seen"])
            self.max_seen = max(self.max_seen, seen_before) if self.max_seen else seen_before
        recent = {digest: datetime.fromisoformat(when) for digest, when in resume.get("recent", {}).items()}
        self.recent.update(recent)
        self.boundary.update(recent)
        return resume


def reconcile_due(state: MutableMapping[str, Any], ctx: RunContext, every_hours: float) -> bool:
    """Whether a table's id reconcile runs this run: asked for (``--reconcile``), every run (``0``), or
    ``every_hours`` after the last completed one (kept in the table's resource state).

    A table without a stored cursor is read whole (first load, full refresh): that read needs no scan
    beside it, and the caller records it as a reconcile."""
    if "cursor" not in state:
        return False
    if ctx.reconcile or every_hours <= 0:
        return True
    last = state.get("reconciled_at")
    return not last or ctx.started_at - datetime.fromisoformat(last) >= timedelta(hours=every_hours)


def mark_reconciled(state: MutableMapping[str, Any], ctx: RunContext) -> None:
    """Record a completed reconcile (it commits with the load, like a cursor)."""
    state["reconciled_at"] = ctx.started_at.isoformat()


def parse_time(value: str | None) -> datetime | None:
    """Parse an RFC3339 or ``YYYY-MM-DD HH:MM:SS`` (UTC) timestamp to an aware UTC datetime."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def guarded(name: str, read: Callable[[], Iterator[Any]], stats: RunStats, ctx: RunContext) -> Iterator[Any]:
    """Run one table's reader; when the API budget runs out or a stop is asked for, keep what was read and
    stop the run.

    Rows already yielded are loaded; the table's cursor was not committed, so the next run re-reads them.
    Tables after it yield nothing and keep their state and their rows. A due checkpoint ends the segment
    the same way, before a table starts (or inside a per-deal table, which resumes from its queue).
    """
    import dlt

    spend = dlt.current.source_state()
    ctx.arm_caps(spend, stats)
    try:
        yield from _guarded(name, read, stats, ctx)
    finally:
        ctx.arm_caps(spend, stats)                # the day's spend so far, committed with this load


def _guarded(name: str, read: Callable[[], Iterator[Any]], stats: RunStats, ctx: RunContext) -> Iterator[Any]:
    from sources._errors import AccessDenied, ApiError, BudgetExhausted, CapReached, Checkpoint, Interrupted

    if not stats.stopped and ctx.checkpoint_due() and len(stats.completed) > ctx.segment_tables:
        stats.stopped, stats.checkpoint = "checkpoint", True          # this table starts in the next segment
    if stats.stopped:
        keep_rows_of_unfinished_table()
        return
    try:
        yield from read()
    except Checkpoint:
        stats.stopped, stats.checkpoint = "checkpoint", True
    except (BudgetExhausted, CapReached, Interrupted) as exc:
        stats.stopped, stats.stop_code = str(exc), exc.exit_code
    except (ApiError, AccessDenied) as exc:
        if getattr(exc, "whole_run", False):
            raise
        # one endpoint failed: this table keeps its rows and cursor, the other tables go on
        stats.failed[name] = str(exc)
        keep_rows_of_unfinished_table()
        return
    else:
        stats.completed.append(name)
    if stats.stopped:
        keep_rows_of_unfinished_table()


def keep_rows_of_unfinished_table() -> None:
    """A "replace" table that yields nothing (or only part) would be truncated by dlt: merge instead,
    so a run stopped by the budget never empties a full table or a table under --full-refresh."""
    import dlt

    resource = dlt.current.resource()
    disposition = resource.write_disposition
    if (disposition.get("disposition") if isinstance(disposition, dict) else disposition) == "replace":
        resource.apply_hints(write_disposition="merge")


def table_resource(name: str, read: Callable[[], Iterator[Any]], stats: RunStats, ctx: RunContext,
                   **hints: Any) -> Any:
    """One registry entry as a dlt resource whose reader is ``guarded``."""
    import dlt

    def rows() -> Iterator[Any]:
        started = time.monotonic()
        if ctx.segment_started is None:
            ctx.segment_started, ctx.segment_tables, ctx.rows_read = ctx.clock(), len(stats.completed), 0
        stats.active.append(name)
        try:
            for item in guarded(name, read, stats, ctx):
                data = getattr(item, "data", item)          # rows, or rows with dlt hints
                rows = len(data) if isinstance(data, list) else 1
                stats.count(name, rows=rows)
                ctx.rows_read += rows
                yield item
        finally:
            stats.active.remove(name)
            stats.count(name, seconds=time.monotonic() - started)

    rows.__name__ = rows.__qualname__ = name
    return dlt.resource(rows, name=name, **hints)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def rfc3339(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None
