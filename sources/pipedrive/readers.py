"""Read strategies: how a registry entry is read (``Table.read``). Readers yield lists of rows; cursors
commit when a table's read completes. A table with children (``Table.parent``) queues them the deals it
read; the children wait for that queue, so extraction order never matters."""
from __future__ import annotations

import logging
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, TypeVar

import dlt

from sources._errors import AccessDenied, ApiError, BudgetExhausted, CapReached, Checkpoint, Interrupted
from sources._http import ApiClient
from sources._incremental import Cursor, RunContext, mark_reconciled, parse_time, reconcile_due, rfc3339
from sources._parallel import ordered_parallel
from sources._schema import conformer
from sources._warehouse import stored_keys, stored_rows
from sources.pipedrive.columns import COLUMNS, INCLUDE_FIELDS
from sources.pipedrive.custom_fields import ENTITIES, FieldCatalog, fetch_fields
from sources.pipedrive.deletes import Vanished, flag, reconcile_scan
from sources.pipedrive.paginators import CURSOR, V2_LIMIT

if TYPE_CHECKING:
    from sources.pipedrive.tables import Table

log = logging.getLogger("crm_elt.pipedrive")
DEAL_IDS_PER_CALL = 100            # /api/v2/deals/products accepts at most 100 deal_ids
ENDPOINT_FAILS_AFTER = 3           # this many deals failing before any succeeds: the endpoint fails, not them
REPORT_AFTER_ATTEMPTS = 3          # a deal failing this many runs in a row is reported by id (exit 1)
R = TypeVar("R")


@dataclass
class PipedriveRun:
    """What the readers of one run share: the client, the run context, the field definitions."""

    client: ApiClient
    ctx: RunContext
    tables: Mapping[str, Table]
    start_date: datetime | None
    burst_cap: int | None = None       # rate_limit_burst: caps ``workers`` like it caps the client's pacer
    reconcile_every_hours: float = 24
    fields: dict[str, list[dict]] = field(default_factory=dict)
    reading: set[str] = field(default_factory=set)   # parents extracting now (their children wait for them)

    @property
    def workers(self) -> int:
        """Per-deal requests in flight: enough to keep the burst window full at ~250 ms a response, from the
        burst the client's pacer learned from the server (the pacer still sets the pace)."""
        burst = self.client.pacer.max_requests
        if self.burst_cap:
            burst = min(burst, self.burst_cap)
        return max(2, min(16, burst // 4))

    def children(self, table: Table) -> tuple[str, ...]:
        return tuple(name for name, child in self.tables.items() if child.parent == table.name)

    def field_defs(self, entity: str) -> list[dict]:
        if entity not in self.fields:
            self.fields[entity] = fetch_fields(self.client, entity, table=f"{entity}_fields")
        return self.fields[entity]

    def catalog(self, entity: str) -> FieldCatalog:
        names = dlt.current.source_state().setdefault("custom_field_columns", {}).setdefault(entity, {})
        defs = self.field_defs(entity)
        standard = {f["key"] for f in defs if not f.get("edit_flag")}
        return FieldCatalog(entity, defs, names, standard)

    def deal_queue(self, table: str) -> dict[str, str]:
        """Deals changed since ``table`` last read them: {deal id: update_time}, kept in source state."""
        return dlt.current.source_state().setdefault("deal_queue", {}).setdefault(table, {})

    def deal_failures(self, table: str) -> dict[str, dict]:
        """Deals whose ``table`` call failed for good: {deal id: {"attempts", "error", "run"}}, kept in
        source state until a later run reads them."""
        return dlt.current.source_state().setdefault("deal_failures", {}).setdefault(table, {})

    def deleted_deals(self, table: str) -> dict[str, str]:
        """Deals seen deleted (or purged) whose ``table`` rows are not marked yet: {deal id: deleted at}."""
        return dlt.current.source_state().setdefault("deleted_deal_queue", {}).setdefault(table, {})

    def vanished(self, table: Table, cursor: Cursor | None = None) -> Vanished | None:
        """The delete check of this read: when the read is complete (first load, full refresh, full
        tables) or the table's id scan is due; None otherwise (and in backfills)."""
        state = dlt.current.resource_state()
        if cursor is None:
            # a full table: its keys at the last run are in the state (no warehouse read each run)
            return Vanished(table, (set(state.setdefault("keys", [])), set()), self.ctx.started_at)
        if cursor.backfill:
            return None
        complete = cursor.since is None and cursor.until is None
        scan = not complete and table.reconcile and reconcile_due(state, self.ctx, self.reconcile_every_hours)
        if not (complete or scan):
            return None
        return Vanished(table, stored_keys(table.name, table.primary_key), self.ctx.started_at, scan)

    def cursor(self, table: Table) -> Cursor:
        # Capped at the run's start: a change made while this run reads (a deal archived between the
        # /deals and /deals/archived scans, a flow event of a deal queued only next run) is read again.
        return Cursor(dlt.current.resource_state(), table=table.name, ctx=self.ctx, start_date=self.start_date,
                      cap_at_run_start=True)

    def pages(self, table: Table, params: dict, deal_id: str | None = None) -> Iterator[list[dict]]:
        for endpoint in table.endpoints:
            path = endpoint.path.format(id=deal_id) if deal_id else endpoint.path
            # a deal deleted since it was queued answers 404: nothing to read
            yield from table.paging.pages(self.client, path, params, table=table.name, cost=endpoint.cost,
                                          missing_ok=deal_id is not None)


class Shaper:
    """API rows → warehouse rows: custom-field names, delete marks, declared types.

    Custom-field columns are announced once. A field created after the definitions were fetched shows
    up as an unknown hash: the definitions are fetched again (once per table and run) so its values are
    not dropped.
    """

    def __init__(self, table: Table, run: PipedriveRun):
        self.table, self.run = table, run
        self.catalog = run.catalog(table.custom_fields) if table.custom_fields else None
        self.refreshed = self.announced = self.warned = False
        self._conform()

    def _conform(self) -> None:
        custom = self.catalog.types() if self.catalog else {}
        self.conform = conformer(self.table.name, {**custom, **COLUMNS[self.table.name]})

    def __call__(self, rows: list[dict]) -> Any:
        if self.catalog:
            rows = self._named(rows)
        rows = [self.conform(row) for row in flag(self.table, rows)]
        if self.announced or not self.catalog:
            return rows
        self.announced = True
        return dlt.mark.with_hints(rows, dlt.mark.make_hints(columns=self.catalog.columns()))

    def stored(self, rows: list[dict]) -> list[dict]:
        """Rows read back from the warehouse (already named and marked): types only."""
        return [self.conform(row) for row in rows]

    def _named(self, rows: list[dict]) -> list[dict]:
        if not self.refreshed and not self.table.row_format.knows_all(self.catalog, rows):
            self.refreshed, self.announced = True, False
            self.run.fields.pop(self.table.custom_fields, None)
            self.catalog = self.run.catalog(self.table.custom_fields)
            self._conform()
        rows = [self.table.row_format.apply(self.catalog, row) for row in rows]
        if self.catalog.unknown_fields and not self.warned:
            self.warned = True
            log.warning("%s: custom fields %s are not in /v1/%sFields; their values are not loaded",
                        self.table.name, sorted(self.catalog.unknown_fields), self.table.custom_fields)
        return rows


def when(table: Table):
    return lambda row: parse_time(row.get(table.cursor_field))


def read_cdc(table: Table, run: PipedriveRun) -> Iterator[Any]:
    """Sorted by the cursor ascending from ``updated_since`` (inclusive) = the stored cursor.

    A long scan checkpoints between pages: the next segment goes on from the newest ``update_time`` read
    at the endpoint it was on (pages are sorted by it; the rows of that second it loaded are skipped)."""
    cursor, shape, children, stamp = run.cursor(table), Shaper(table, run), run.children(table), when(table)
    resume = cursor.resume() if resumable(table, run, cursor) else None
    # a resumed scan saw only part of the list: no delete check (the next id scan is due instead)
    check = None if resume else run.vanished(table, cursor)
    params = {**table.params, "limit": table.page_size, "sort_by": table.cursor_field, "sort_direction": "asc",
              "updated_since": rfc3339(cursor.since), "updated_until": rfc3339(cursor.until)}
    if table.include_fields:
        params["include_fields"] = ",".join(INCLUDE_FIELDS[table.name])
    for index, endpoint in enumerate(table.endpoints):
        if resume and index < resume["endpoint"]:
            continue                                  # listed whole by an earlier segment
        since = resume.get("from") if resume and index == resume["endpoint"] else None
        reached = started = parse_time(since)
        pages = table.paging.pages(run.client, endpoint.path, {**params, **({"updated_since": since} if since else {})},
                                   table=table.name, cost=endpoint.cost)
        try:
            for page in pages:
                if check:
                    check.saw(page)
                stamps = [moment for moment in map(stamp, page) if moment]
                reached = max([*stamps, *([reached] if reached else [])], default=None)
                rows = list(cursor.filter(page, stamp))
                if children:
                    enqueue_changed_deals(run, rows, children)
                if rows:
                    yield shape(rows)
                # a segment that has not got past the second it began at goes on: more rows of one second
                # than a page holds (a bulk update) would otherwise send every segment back to that second
                moved = reached and (started is None or reached > started)
                if page and moved and run.ctx.checkpoint_due() and resumable(table, run, cursor):
                    cursor.save_position(endpoint=index, **{"from": rfc3339(reached)})
                    raise Checkpoint()
        except (BudgetExhausted, CapReached, Interrupted):
            # a stop (budget, token cap, signal) keeps the position too: the next run goes on from here
            # (a table larger than a day's cap still completes over several days)
            if resumable(table, run, cursor):
                cursor.save_position(endpoint=index, **{"from": rfc3339(reached)})
            raise
    if check:
        yield from mark_vanished(table, run, check, shape)
    cursor.commit()


def resumable(table: Table, run: PipedriveRun, cursor: Cursor) -> bool:
    """A scan that may stop at a checkpoint and go on: not a backfill (no cursor moves), not a rebuild
    (--full-refresh replaces the table: one segment)."""
    return run.ctx.checkpoints and not cursor.backfill and table.name not in run.ctx.full_refresh


def mark_vanished(table: Table, run: PipedriveRun, check: Vanished, shape: Shaper) -> Iterator[Any]:
    """After a complete read, or after the id scan: mark what the API no longer lists."""
    children = run.children(table)          # a deal revived or deleted here queues its children
    if check.scan:
        for page in reconcile_scan(table, run.client):
            check.saw(page)
            revived = check.revived(page)
            if revived:
                if children:
                    enqueue_changed_deals(run, revived, children)
                yield shape(revived)
    gone = check.gone()
    listed = check.listed(gone)
    if listed:
        if children:
            enqueue_changed_deals(run, listed, children)
        yield shape(listed)
    for rows in check.stored(gone):
        if children:
            deals_gone(run, [row["id"] for row in rows], children)
        yield shape.stored(rows)
    if table.reconcile:                     # full tables are compared every run: nothing to schedule
        mark_reconciled(dlt.current.resource_state(), run.ctx)


def enqueue_changed_deals(run: PipedriveRun, deals: list[dict], children: tuple[str, ...]) -> None:
    """Changed deals queue their children for a re-read; deleted deals queue their children's marks.

    A deal whose count of a child's rows is 0 (``count_field``) and that had none at the child's last read
    is not queued for it: the call could only return nothing, and there is nothing to mark removed."""
    for child in children:
        queue, gone = run.deal_queue(child), run.deleted_deals(child)
        count_field = run.tables[child].count_field
        known = dlt.current.source_state().get("resources", {}).get(child, {}).get("ids", {}) if count_field else {}
        for deal in deals:
            key = str(deal["id"])
            if deal.get("is_deleted"):
                gone[key] = deal.get("update_time") or run.ctx.started_at.isoformat()
                queue.pop(key, None)
                continue
            gone.pop(key, None)
            if count_field and deal.get(count_field) == 0 and key not in known:
                queue.pop(key, None)
            else:
                queue[key] = deal.get("update_time") or ""


def deals_gone(run: PipedriveRun, ids: list[Any], children: tuple[str, ...]) -> None:
    """Deals purged before a run saw them deleted: their children are marked at the run's start."""
    enqueue_changed_deals(run, [{"id": deal_id, "is_deleted": True, "update_time": run.ctx.started_at.isoformat()}
                                for deal_id in ids], children)


def read_cdc_desc(table: Table, run: PipedriveRun) -> Iterator[Any]:
    """Newest first: stop at the first row older than the cursor (the rest was loaded before)."""
    cursor, shape, stamp = run.cursor(table), Shaper(table, run), when(table)
    check = run.vanished(table, cursor)
    since, until = cursor.since, cursor.until
    seen: set = set()
    for endpoint in table.endpoints:          # the early stop ends one endpoint's scan, not the next one's
        params = {**table.params, "limit": table.page_size}
        # offset pages re-read a few rows: a row deleted mid-scan shifts the next page up
        for page in table.paging.pages(run.client, endpoint.path, params, table=table.name,
                                       cost=endpoint.cost, overlap=table.paging.overlap):
            if check:
                check.saw(page)
            rows, older = [], False
            for row in page:
                moment = stamp(row)
                if since and moment and moment < since:
                    older = True
                    break
                key = row.get(table.primary_key)
                if key in seen or (until and moment and moment >= until):
                    continue
                seen.add(key)
                if cursor.keeps(moment, row):
                    rows.append(row)
            if rows:
                yield shape(rows)
            if older:
                break
    if check:
        yield from mark_vanished(table, run, check, shape)
    cursor.commit()


def read_full(table: Table, run: PipedriveRun) -> Iterator[Any]:
    params = dict(table.params)
    if table.paging.limited:
        params["limit"] = table.page_size
    yield from read_whole(table, run, run.pages(table, params))


def read_whole(table: Table, run: PipedriveRun, pages: Iterable[list[dict]]) -> Iterator[Any]:
    """A table read whole every run: rows, then marks for the rows that left the list."""
    shape, check = Shaper(table, run), run.vanished(table)
    for page in pages:
        check.saw(page)
        if page:
            yield shape(page)
    yield from mark_vanished(table, run, check, shape)
    dlt.current.resource_state()["keys"] = sorted(check.present, key=str)


def read_fields(table: Table, run: PipedriveRun) -> Iterator[Any]:
    rows = [dict(row) for row in run.field_defs(table.name.removesuffix("_fields"))]
    yield from read_whole(table, run, [rows])


def read_field_map(table: Table, run: PipedriveRun) -> Iterator[Any]:
    yield from read_whole(table, run, [run.catalog(entity).mapping_rows() for entity in ENTITIES])


def read_per_deal(table: Table, run: PipedriveRun) -> Iterator[Any]:
    """One call per changed deal (queued by ``deals``), a few in flight at once; flow pages are newest
    first, so paging stops at the cursor. Rows of deleted deals are loaded marked deleted."""
    shape, children = Shaper(table, run), DealChildren(table, run)
    cursor = run.cursor(table) if table.cursor_field else None
    names: dict[str, str] = {}
    for batch in children.batches():
        if not batch:
            yield []                  # deals is still reading (round-robin extraction): let it go on
            continue
        if table.names_field_keys and not names:
            names = field_names(run, table.names_field_keys)
        restored = children.restored(batch) if cursor else set()

        whole = restored | children.retried

        def fetch(deal_id: str, whole: set[str] = whole) -> list[dict]:
            # a deal restored after its rows were marked deleted, or failed in an earlier run, is read
            # whole, not from the cursor
            since = cursor.since if cursor and deal_id not in whole else None
            rows = []
            for page in run.pages(table, {**table.params, "limit": 500}, deal_id=deal_id):
                shaped = [row for row in (table.shape(item, int(deal_id)) for item in page) if row is not None]
                newer = [row for row in shaped if not (since and parse_time(row.get(table.cursor_field)) < since)]
                rows += newer
                if len(newer) < len(shaped):
                    break
            return rows

        progress = run.client.stats[table.name]
        progress.todo = len(batch)                  # one call per deal: the progress display's ETA
        # closed at once when the table fails: the deals not started yet are not asked for
        with closing(ordered_parallel(children.attempt(fetch), batch, run.workers)) as results:
            for deal_id, (rows, error) in results:
                progress.todo -= 1
                if error:
                    children.failed(deal_id, error)
                    continue
                children.read_ok += 1
                for row in rows if names else ():
                    row["field_name"] = names.get(row.get("field_key"), row.get("field_key"))
                if cursor:
                    new = list(cursor.filter(rows, when(table)))
                    rows = rows if deal_id in whole else new     # a restored deal's boundary rows were loaded deleted
                yield from children.loaded(shape, {deal_id: rows}, track_removed=cursor is None)
                children.checkpoint()
    yield from children.finish(shape)
    if cursor:
        cursor.commit()


def field_names(run: PipedriveRun, entity: str) -> dict[str, str]:
    """Field key (custom fields: the 40-hex hash) → the name users see in Pipedrive."""
    return {f["key"]: f.get("name") or f["key"] for f in run.field_defs(entity)}


def read_deal_batch(table: Table, run: PipedriveRun) -> Iterator[Any]:
    """``deal_ids=`` in batches of 100 for the changed deals; line items removed from a deal are marked."""
    shape, children = Shaper(table, run), DealChildren(table, run)

    def fetch(batch: list[str]) -> dict[str, list[dict]]:
        by_deal: dict[str, list[dict]] = {deal_id: [] for deal_id in batch}
        for page in run.pages(table, {**table.params, "limit": V2_LIMIT, "deal_ids": ",".join(batch)}):
            for row in page:
                by_deal.setdefault(str(row["deal_id"]), []).append(row)
        return by_deal

    for pending in children.batches():
        if not pending:
            yield []                  # deals is still reading (round-robin extraction): let it go on
            continue
        for start in range(0, len(pending), DEAL_IDS_PER_CALL):
            for by_deal in children.isolated(pending[start:start + DEAL_IDS_PER_CALL], fetch):
                yield from children.loaded(shape, by_deal, track_removed=True)
            children.checkpoint()
    yield from children.finish(shape)


class DealChildren:
    """The deals a per-deal table reads this run, and the delete marks of its rows.

    - a changed deal: its rows are loaded; rows it had at the last read but not now (a removed line item
      or participant) are marked deleted as stored;
    - a deleted deal (listed deleted, or purged): its rows still served are loaded marked deleted, and its
      stored rows not served any more are marked too (``deleted_at`` = the deal's).
    """

    def __init__(self, table: Table, run: PipedriveRun):
        self.table, self.run = table, run
        self.queue = pending_deals(table, run)
        self.gone = run.deleted_deals(table.name)
        self.known = dlt.current.resource_state().setdefault("ids", {})
        self.loaded_ids: set = set()           # rows of deleted deals emitted from the API this run
        self.done: set[str] = set()            # deals read this run
        # a rebuild (--full-refresh) replaces the table: no merge de-duplicates what the API lists twice
        self.emitted: set | None = set() if table.name in run.ctx.full_refresh else None
        self.failures = run.deal_failures(table.name)
        if table.name in run.ctx.full_refresh:
            self.failures.clear()                  # a rebuild gives every deal a fresh start
        self.this_run = run.ctx.started_at.isoformat()
        self.failed_now: dict[str, dict | None] = {}   # deals failed in this read: their earlier record
        self.read_ok = 0                               # deals (or batches) read in this read
        # deals that failed in an earlier run are read whole: the cursor moved on without their rows
        self.retried = {deal_id for deal_id, failure in self.failures.items() if failure.get("run") != self.this_run}

    def batches(self) -> Iterator[list[str]]:
        """The queued deals not read yet this run, until the queue is drained and ``deals`` has finished;
        an empty batch while ``deals`` still reads (dlt's round-robin extraction interleaves resources,
        so the children never depend on the extraction order)."""
        while True:
            batch = [deal_id for deal_id in sorted(set(self.queue) | set(self.gone), key=int)
                     if deal_id not in self.done and self.failures.get(deal_id, {}).get("run") != self.this_run]
            if batch:
                self.done.update(batch)
                yield batch
            elif self.table.parent in self.run.reading:
                yield []
            else:
                return

    def checkpoint(self) -> None:
        """End the segment here when a checkpoint is due: the deals read so far left the queue (their rows
        load now), the rest are read by the next segment. Not in a rebuild (--full-refresh: one segment)."""
        if self.run.ctx.checkpoint_due() and self.table.name not in self.run.ctx.full_refresh:
            raise Checkpoint()

    def restored(self, batch: list[str]) -> set[str]:
        """Live deals of ``batch`` with rows stored as deleted (the deal was deleted, then restored)."""
        live = [int(deal_id) for deal_id in batch if deal_id not in self.gone]
        _, marked = stored_keys(self.table.name, "deal_id", where=("deal_id", live)) if live else (set(), set())
        return {str(deal_id) for deal_id in marked}

    def deleted_at(self, deal_id: str) -> datetime | None:
        stamp = self.gone.get(deal_id)
        return None if stamp is None else parse_time(stamp) or self.run.ctx.started_at

    def loaded(self, shape: Shaper, by_deal: dict[str, list[dict]], track_removed: bool) -> Iterator[list[dict]]:
        rows = []
        for deal_id, deal_rows in by_deal.items():
            deleted_at = self.deleted_at(deal_id)
            shaped = shape(deal_rows) if deal_rows else []
            if deleted_at is not None:
                for row in shaped:
                    row["is_deleted"], row["deleted_at"] = True, deleted_at
                self.loaded_ids.update(row["id"] for row in shaped)
            rows += shaped
        if self.emitted is not None:
            rows = [row for row in rows if not (row["id"] in self.emitted or self.emitted.add(row["id"]))]
        if rows:
            yield rows
        if track_removed:
            removed = self._removed(by_deal)
            if removed:
                for marks in stored_rows(self.table.name, removed, self.run.ctx.started_at):
                    yield shape.stored(marks)
        for deal_id in by_deal:
            if deal_id in self.queue:
                del self.queue[deal_id]
            self.failures.pop(deal_id, None)

    def isolated(self, batch: list[str], fetch: Callable[[list[str]], R]) -> Iterator[R]:
        """``fetch(batch)`` for a batch of deals; a call that fails for good is split in halves until the
        failing deals stand alone (``failed``), so one poison deal never holds back the others."""
        result, error = self.attempt(fetch)(batch)
        if error is None:
            self.read_ok += 1
            yield result
        elif len(batch) == 1:
            self.failed(batch[0], error)
        else:
            half = len(batch) // 2
            yield from self.isolated(batch[:half], fetch)
            yield from self.isolated(batch[half:], fetch)

    @staticmethod
    def attempt(fetch: Callable[[Any], R]) -> Callable[[Any], tuple[R | None, Exception | None]]:
        """``fetch`` for a deal (or a batch), returning its failure instead of raising it (unless every table
        would fail the same way), so the deals in flight beside it finish."""
        def attempted(deals: Any) -> tuple[R | None, Exception | None]:
            try:
                return fetch(deals), None
            except (ApiError, AccessDenied) as exc:
                if getattr(exc, "whole_run", False):
                    raise
                return None, exc
        return attempted

    def failed(self, deal_id: str, exc: Exception) -> None:
        """A deal whose call failed for good stays queued and is read again (whole) by the next runs. When
        the first few deals all fail, the endpoint is failing, not the deals: the table fails instead."""
        earlier = self.failed_now[deal_id] = self.failures.get(deal_id)
        self.failures[deal_id] = {"attempts": (earlier or {}).get("attempts", 0) + 1, "error": str(exc), "run": self.this_run}
        if not self.read_ok and len(self.failed_now) >= ENDPOINT_FAILS_AFTER:
            for key, record in self.failed_now.items():       # not the deals' fault: no attempt counts
                if record is None:
                    self.failures.pop(key, None)
                else:
                    self.failures[key] = record
            raise exc
        log.warning("pipedrive.%s: deal %s: %s; the other deals load, this one is read again next run "
                    "(attempt %d)", self.table.name, deal_id, exc, self.failures[deal_id]["attempts"])

    def report(self) -> str | None:
        """One line for the deals that failed ``REPORT_AFTER_ATTEMPTS`` runs in a row, or None."""
        stuck = {deal_id: failure for deal_id, failure in self.failures.items()
                 if failure["attempts"] >= REPORT_AFTER_ATTEMPTS}
        if not stuck:
            return None
        ids = sorted(stuck, key=int)
        shown = ", ".join(ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
        latest = stuck[ids[0]]
        return (f"deal{'s' * (len(ids) > 1)} {shown} failed {latest['attempts']} runs in a row, the last time: "
                f"{latest['error']}; the other deals loaded; these are read again every run")

    def _removed(self, by_deal: dict[str, list[dict]]) -> set:
        """Ids a live deal had at the last read but not now; remember the current ids."""
        removed: set = set()
        for deal_id, rows in by_deal.items():
            if deal_id in self.gone:
                continue
            current = sorted(row["id"] for row in rows)
            removed |= set(self.known.get(deal_id, ())) - set(current)
            if current:
                self.known[deal_id] = current
            else:
                self.known.pop(deal_id, None)
        return removed

    def finish(self, shape: Shaper) -> Iterator[list[dict]]:
        """Stored rows of deleted deals that the API did not serve again → marked deleted."""
        report = self.report()
        if report:
            stats = self.run.client.stats
            stats.failed[self.table.name] = report       # the table loaded and moved on; these deals did not
        gone = [deal_id for deal_id in self.gone if deal_id not in self.failures]    # failed: marked later
        if not gone:
            return
        when = {int(deal_id): self.deleted_at(deal_id) for deal_id in gone}
        rebuild = self.table.name in self.run.ctx.full_refresh     # replace: keep the earlier marks too
        for rows in stored_rows(self.table.name, when, self.run.ctx.started_at, column="deal_id",
                                live_only=not rebuild):
            rows = [row for row in rows if row["id"] not in self.loaded_ids]
            for row in rows:
                row["deleted_at"] = when.get(row.get("deal_id")) or row["deleted_at"]
            if rows:
                yield shape.stored(rows)
        for deal_id in gone:
            self.known.pop(deal_id, None)
            del self.gone[deal_id]


def pending_deals(table: Table, run: PipedriveRun) -> dict[str, str]:
    """The table's queue of changed deals; a --full-refresh of the table queues every deal (deleted ones
    for their marks) and forgets the remembered child ids."""
    queue = run.deal_queue(table.name)
    if table.name in run.ctx.full_refresh:
        dlt.current.resource_state()["ids"] = {}
        enqueue_changed_deals(run, all_deals(run, table), children=(table.name,))
    elif run.ctx.window and table.parent not in {*run.reading, *run.client.stats.completed, *run.ctx.listed}:
        # a backfill of the children alone (their parent not selected): the window's deals, listed once a run
        window = {"updated_since": rfc3339(run.ctx.window.start), "updated_until": rfc3339(run.ctx.window.end)}
        enqueue_changed_deals(run, all_deals(run, table, window), children=(table.name,))
        run.ctx.listed.add(table.parent)
    return queue


def all_deals(run: PipedriveRun, table: Table, window: dict[str, str | None] | None = None) -> list[dict]:
    """Every deal (a full refresh of a per-deal table), or those updated in ``window``, from the cheap
    v2 list (500 a request)."""
    deals: list[dict] = []
    parent = run.tables[table.parent]
    params = {"limit": V2_LIMIT, "status": parent.params["status"], **(window or {})}
    for endpoint in parent.endpoints:
        for page in CURSOR.pages(run.client, endpoint.path, params, table=table.name, cost=endpoint.cost):
            deals += [{"id": deal["id"], "update_time": deal.get("update_time"), "is_deleted": deal.get("is_deleted")}
                      for deal in page]
    return deals


@dataclass(frozen=True)
class ReadStrategy:
    """How a registry entry is read (``Table.read``), and how ``crm-elt tables`` describes it."""

    reader: Callable[[Table, PipedriveRun], Iterator[Any]]
    summary: str                       # the "mode" column; {cursor} and {how} are filled in
    per_deal: bool = False             # reads the deals its parent queued
    whole: bool = False                # every run reads the whole list: deletes show by absence

    def __call__(self, table: Table, run: PipedriveRun) -> Iterator[Any]:
        if not run.children(table):
            yield from self.reader(table, run)
            return
        run.reading.add(table.name)    # its children wait for the deals it queues
        try:
            yield from self.reader(table, run)
        finally:
            run.reading.discard(table.name)

    def describe(self, table: Table) -> str:
        how = f"CDC on {table.cursor_field}, merge" if table.cursor_field else "merge"
        return self.summary.format(cursor=table.cursor_field, how=how)


CDC = ReadStrategy(read_cdc, "CDC on {cursor} (`updated_since`), merge")
CDC_NEWEST_FIRST = ReadStrategy(read_cdc_desc, "CDC on {cursor}, newest first, stops at the cursor; merge")
FULL = ReadStrategy(read_full, "full table, merge", whole=True)
FIELDS = ReadStrategy(read_fields, "full table, merge; names custom-field columns", whole=True)
FIELD_MAP = ReadStrategy(read_field_map, "built from the *_fields tables (no request), merge", whole=True)
PER_DEAL = ReadStrategy(read_per_deal, "deals changed since the last run, one call each; {how}", per_deal=True)
DEAL_BATCH = ReadStrategy(read_deal_batch, "deals changed since the last run, 100 per call; merge", per_deal=True)
