"""HotProfile's estimate of a run (``crm-elt plan``): each list counts its rows in ``pages.total_count``,
so one call with a page of one row, filtered like the run (updated since the cursor minus the lag), says
how many pages the run reads; a due id scan (or a first load) adds the whole list's pages."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from sources._http import ApiClient
from sources._incremental import RunContext, reconcile_due
from sources._plan import Estimate, pages
from sources.hotprofile import resolve_tables
from sources.hotprofile.config import HotProfileSettings
from sources.hotprofile.paginators import _pages_info
from sources.hotprofile.shapes import to_jst


def count(client: ApiClient, path: str, params: dict[str, Any]) -> int:
    body = client.post(path, {**params, "page[number]": 1, "page[display_number]": 1}, table="plan") or {}
    total, _ = _pages_info(body) if isinstance(body, dict) else (None, None)
    return total or 0


def estimate(client: ApiClient, ctx: RunContext, state: Mapping[str, Any], stored: Mapping[str, int],
             tables: list[str]) -> list[Estimate]:
    settings: HotProfileSettings = ctx.settings
    registry = resolve_tables(settings)
    out = []
    for name in tables:
        table = registry[name]
        resource = state.get("resources", {}).get(name, {})
        cursor = resource.get("cursor")
        since = datetime.fromisoformat(cursor) - settings.lag if cursor else settings.start_date
        changed = count(client, table.path, {table.since_param: to_jst(since, table.filter_format)} if since else {})
        calls, note = pages(changed, table.page_size), f"{changed} rows {'since the cursor (minus the lag)' if cursor else 'to load'}"
        if cursor and reconcile_due(resource, ctx, settings.reconcile_every_hours):
            whole = count(client, table.path, {})
            calls += pages(whole, table.page_size)
            note += f", id scan of {whole}"
        out.append(Estimate(name, calls, calls, note))
    out.insert(0, Estimate("(row counts)", len(out) + sum("id scan" in e.note for e in out), 0,
                           "this plan's own calls"))
    return out
