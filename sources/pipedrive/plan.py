"""Pipedrive's estimate of a run (``crm-elt plan``): per table, from the source state (cursors, queued
deals) and the deals' counts (``/v1/deals/summary``, and ``/archived``: 40 tokens each, the cheapest
count Pipedrive offers). Other lists cannot be counted before they are read: their first load is shown as
a floor (one page), their incremental runs as one page per endpoint."""
from __future__ import annotations

from typing import Any, Mapping

from sources._http import ApiClient
from sources._incremental import RunContext, reconcile_due
from sources._plan import Estimate, pages
from sources.pipedrive.paginators import V2_LIMIT
from sources.pipedrive.readers import DEAL_BATCH, DEAL_IDS_PER_CALL
from sources.pipedrive.tables import TABLES, Table

SUMMARIES = ("/v1/deals/summary", "/v1/deals/summary/archived")
SUMMARY_COST = 40


def count_deals(client: ApiClient) -> int:
    """Open, won and lost deals, archived or not (deleted ones are not counted: they cost the same)."""
    total = 0
    for path in SUMMARIES:
        body = client.get(path, table="plan", cost=SUMMARY_COST) or {}
        total += int(((body.get("data") or {}).get("total_count")) or 0)
    return total


def estimate(client: ApiClient, ctx: RunContext, state: Mapping[str, Any], stored: Mapping[str, int],
             tables: list[str]) -> list[Estimate]:
    """``state``: the source's dlt state ({} before the first run); ``stored``: rows per table in the
    warehouse."""
    resources = state.get("resources", {})

    def loaded(name: str) -> bool:
        return bool(resources.get(name, {}).get("cursor") or resources.get(name, {}).get("keys"))
    # a per-deal table reads the deals its parent queued: once the parent has a cursor, the queue is it
    first_load = [name for name in tables
                  if not loaded(TABLES[name].parent if TABLES[name].reads_per_deal else name)]
    needs_deals = any(TABLES[name].reads_per_deal or name == "deals" for name in first_load)
    deals = count_deals(client) if needs_deals else None
    out = [Estimate("(deal counts)", len(SUMMARIES), len(SUMMARIES) * SUMMARY_COST, "this plan's own requests")] \
        if deals is not None else []
    for name in tables:
        table = TABLES[name]
        guess = _table(table, name in first_load, state, stored.get(name, 0), deals)
        if table.reconcile and name not in first_load and \
                reconcile_due(resources.get(name, {}), ctx, ctx.settings.reconcile_every_hours):
            scan = len(table.endpoints) * pages(stored.get(name, 0), V2_LIMIT)
            guess.requests, guess.tokens = guess.requests + scan, guess.tokens + scan * table.endpoints[0].cost
            guess.note += f"; id scan due ({scan} pages)"
        out.append(guess)
    return out


def _table(table: Table, first: bool, state: Mapping[str, Any], stored: int, deals: int | None) -> Estimate:
    cost = sum(endpoint.cost for endpoint in table.endpoints)
    if table.reads_per_deal:
        queued = len(state.get("deal_queue", {}).get(table.name, {})) + \
            len(state.get("deleted_deal_queue", {}).get(table.name, {}))
        if first:
            queued, note = max(queued, deals or 0), f"{deals} deals"
        else:
            note = f"{queued} deals queued, plus the deals changed since"
        calls = -(-queued // DEAL_IDS_PER_CALL) if table.read is DEAL_BATCH else queued
        if table.count_field:       # deals without any are not asked
            note += f" (those without {table.count_field.removesuffix('_count')} are skipped)"
        return Estimate(table.name, calls, calls * cost, note, exact=False)
    if not table.endpoints:
        return Estimate(table.name, 0, 0, "built from the field tables")
    if table.name == "deals" and first and deals is not None:
        calls = sum(pages(deals, table.page_size) for _ in table.endpoints)
        return Estimate(table.name, calls, calls * cost // len(table.endpoints), f"{deals} deals")
    if table.read.whole:
        calls = len(table.endpoints) * pages(stored, table.page_size)
        return Estimate(table.name, calls, calls * cost // len(table.endpoints), "read whole every run",
                        exact=bool(stored))
    if first:
        return Estimate(table.name, len(table.endpoints), cost, "first load: rows unknown until read", exact=False)
    return Estimate(table.name, len(table.endpoints), cost, "changes since the cursor", exact=False)
