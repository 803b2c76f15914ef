"""One reader per registry mode. Readers yield lists of rows; cursors commit when a table completes."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterator

import dlt

from sources._http import ApiClient
from sources._incremental import Cursor, RunContext, parse_time, rfc3339
from sources._parallel import ordered_parallel
from sources.pipedrive.custom_fields import FieldCatalog, fetch_fields
from sources.pipedrive.paginators import PAGINATORS, v2_pages
from sources.pipedrive.settings import DEAL_CHILDREN, FIELD_ENTITIES, V2_LIMIT, Table

log = logging.getLogger("crm_elt.pipedrive")
DEAL_BATCH = 100                   # /api/v2/deals/products accepts at most 100 deal_ids
REMOVED = "_crm_elt_removed"       # tombstone column: rows carrying it are deleted by the merge


@dataclass
class PipedriveRun:
    """What the readers of one run share: the client, the run context, the field definitions."""

    client: ApiClient
    ctx: RunContext
    start_date: datetime | None
    workers: int = 4                   # per-deal requests in flight (the pacer still sets the pace)
    fields: dict[str, list[dict]] = field(default_factory=dict)

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

    def cursor(self, table: Table) -> Cursor:
        # Capped at the run's start: a change made while this run reads (a deal archived between the
        # /deals and /deals/archived scans, a flow event of a deal queued only next run) is read again.
        return Cursor(dlt.current.resource_state(), table=table.name, ctx=self.ctx, start_date=self.start_date,
                      cap_at_run_start=True)

    def pages(self, table: Table, params: dict, deal_id: str | None = None) -> Iterator[list[dict]]:
        for endpoint in table.endpoints:
            path = endpoint.path.format(id=deal_id) if deal_id else endpoint.path
            # a deal deleted since it was queued answers 404: nothing to read
            yield from PAGINATORS[table.paging](self.client, path, params, table=table.name, cost=endpoint.cost,
                                                 missing_ok=deal_id is not None)


class Named:
    """Applies an entity's custom-field names to rows and announces the new columns once.

    A field created after the definitions were fetched shows up as an unknown hash: the definitions
    are fetched again (once per table and run) so its values are not dropped.
    """

    def __init__(self, table: Table, run: PipedriveRun):
        self.table, self.run = table, run
        self.v1 = table.paging == "v1"
        self.catalog = run.catalog(table.custom_fields) if table.custom_fields else None
        self.refreshed = self.announced = self.warned = False

    def __call__(self, rows: list[dict]) -> Any:
        if not self.catalog:
            return rows
        if not self.refreshed and not self.catalog.knows_all(rows, self.v1):
            self.refreshed, self.announced = True, False
            self.run.fields.pop(self.table.custom_fields, None)
            self.catalog = self.run.catalog(self.table.custom_fields)
        apply = self.catalog.apply_v1 if self.v1 else self.catalog.apply
        rows = [apply(row) for row in rows]
        if self.catalog.unknown_fields and not self.warned:
            self.warned = True
            log.warning("%s: custom fields %s are not in /v1/%sFields; their values are not loaded",
                        self.table.name, sorted(self.catalog.unknown_fields), self.table.custom_fields)
        if self.announced:
            return rows
        self.announced = True
        return dlt.mark.with_hints(rows, dlt.mark.make_hints(columns=self.catalog.columns()))


def when(table: Table):
    return lambda row: parse_time(row.get(table.cursor_field))


def read_cdc(table: Table, run: PipedriveRun) -> Iterator[Any]:
    cursor, named = run.cursor(table), Named(table, run)
    params = {**table.params, "limit": table.page_size, "sort_by": table.cursor_field, "sort_direction": "asc",
              "updated_since": rfc3339(cursor.since), "updated_until": rfc3339(cursor.until)}
    for page in run.pages(table, params):
        rows = list(cursor.filter(page, when(table)))
        if table.name == "deals":
            enqueue_changed_deals(run, rows)
        if rows:
            yield named(rows)
    cursor.commit()


def enqueue_changed_deals(run: PipedriveRun, deals: list[dict]) -> None:
    for child in DEAL_CHILDREN:
        queue = run.deal_queue(child)
        for deal in deals:
            queue[str(deal["id"])] = deal.get("update_time") or ""


OFFSET_OVERLAP = 5     # v1 offset pages re-read a few rows: a row deleted mid-scan shifts the next page up


def read_cdc_desc(table: Table, run: PipedriveRun) -> Iterator[Any]:
    """Newest first: stop at the first row older than the cursor (the rest was loaded before)."""
    cursor, named, stamp = run.cursor(table), Named(table, run), when(table)
    since, until = cursor.since, cursor.until
    overlap = {"overlap": OFFSET_OVERLAP} if table.paging == "v1" else {}
    seen: set = set()
    for endpoint in table.endpoints:          # the early stop ends one endpoint's scan, not the next one's
        params = {**table.params, "limit": table.page_size}
        for page in PAGINATORS[table.paging](run.client, endpoint.path, params, table=table.name,
                                             cost=endpoint.cost, **overlap):
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
                if moment is None or cursor.is_new(moment, row):
                    rows.append(row)
            if rows:
                yield named(rows)
            if older:
                break
    cursor.commit()


def read_full(table: Table, run: PipedriveRun) -> Iterator[Any]:
    params = dict(table.params)
    if table.paging != "none":
        params["limit"] = table.page_size
    named = Named(table, run)
    for page in run.pages(table, params):
        if page:
            yield named(page)


def read_fields(table: Table, run: PipedriveRun) -> Iterator[Any]:
    rows = run.field_defs(table.name.removesuffix("_fields"))
    if rows:
        yield rows


def read_field_map(table: Table, run: PipedriveRun) -> Iterator[Any]:
    for entity in FIELD_ENTITIES:
        rows = run.catalog(entity).mapping_rows()
        if rows:
            yield rows


def read_per_deal(table: Table, run: PipedriveRun) -> Iterator[Any]:
    """One call per changed deal (queued by ``deals``), a few in flight at once; flow pages are newest
    first, so paging stops at the cursor."""
    queue = pending_deals(table, run)
    cursor = run.cursor(table) if table.cursor_field else None
    since = cursor.since if cursor else None
    known = dlt.current.resource_state().setdefault("ids", {})

    def fetch(deal_id: str) -> list[dict]:
        rows = []
        for page in run.pages(table, {**table.params, "limit": 500}, deal_id=deal_id):
            shaped = [row for row in (table.shape(item, int(deal_id)) for item in page) if row is not None]
            newer = [row for row in shaped if not (since and parse_time(row.get(table.cursor_field)) < since)]
            rows += newer
            if len(newer) < len(shaped):
                break
        return rows

    for deal_id, rows in ordered_parallel(fetch, sorted(queue, key=int), run.workers):
        if cursor:
            rows = list(cursor.filter(rows, when(table)))
        else:
            rows += tombstones(known, {deal_id: rows})
        if rows:
            yield rows
        del queue[deal_id]
    if cursor:
        cursor.commit()


def read_deal_batch(table: Table, run: PipedriveRun) -> Iterator[Any]:
    """``deal_ids=`` in batches of 100 for the changed deals; line items removed from a deal are deleted."""
    queue = pending_deals(table, run)
    known = dlt.current.resource_state().setdefault("ids", {})
    pending = sorted(queue, key=int)
    for start in range(0, len(pending), DEAL_BATCH):
        batch = pending[start:start + DEAL_BATCH]
        params = {**table.params, "limit": V2_LIMIT, "deal_ids": ",".join(batch)}
        by_deal: dict[str, list[dict]] = {deal_id: [] for deal_id in batch}
        for page in run.pages(table, params):
            for row in page:
                by_deal.setdefault(str(row["deal_id"]), []).append(row)
        rows = [row for deal_rows in by_deal.values() for row in deal_rows] + tombstones(known, by_deal)
        if rows:
            yield rows
        for deal_id in batch:
            del queue[deal_id]


def tombstones(known: dict[str, list], by_deal: dict[str, list[dict]]) -> list[dict]:
    """Rows a deal had at the last read but not now → delete markers; remember the current ids."""
    removed = []
    for deal_id, rows in by_deal.items():
        current = sorted(row["id"] for row in rows)
        removed += [{"id": gone, "deal_id": int(deal_id), REMOVED: True}
                    for gone in set(known.get(deal_id, ())) - set(current)]
        if current:
            known[deal_id] = current
        else:
            known.pop(deal_id, None)
    return removed


def pending_deals(table: Table, run: PipedriveRun) -> dict[str, str]:
    """The table's queue of changed deals; a --full-refresh of the table queues every deal."""
    queue = run.deal_queue(table.name)
    if table.name in run.ctx.full_refresh:
        queue.update(all_deal_ids(run, table.name))
    return queue


def all_deal_ids(run: PipedriveRun, table: str) -> dict[str, str]:
    """A full refresh of a per-deal table: every deal, from the cheap v2 list (500 a request)."""
    ids: dict[str, str] = {}
    params = {"limit": V2_LIMIT, "status": "open,won,lost,deleted"}
    for path, cost in (("/api/v2/deals", 10), ("/api/v2/deals/archived", 20)):
        for page in v2_pages(run.client, path, params, table=table, cost=cost):
            ids.update({str(deal["id"]): deal.get("update_time") or "" for deal in page})
    return ids


READERS = {"cdc": read_cdc, "cdc_desc": read_cdc_desc, "full": read_full, "fields": read_fields,
           "field_map": read_field_map, "per_deal": read_per_deal, "deal_batch": read_deal_batch}
