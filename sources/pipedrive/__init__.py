"""Pipedrive → dlt: one resource per entry of the registry in ``tables.py``."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Iterable

import dlt

from sources._http import ApiClient, pipedrive_client
from sources._incremental import RunContext, table_resource


@dataclass
class PipedriveSettings:
    base_url: str
    api_token: str
    start_date: datetime | None = None
    rate_limit_burst: int = 20
    reconcile_every_hours: float = 24       # id scan that marks vanished rows deleted; 0 = every run


def _columns(table: Any) -> dict[str, Any]:
    from sources._schema import column_hints
    from sources.pipedrive.columns import COLUMNS

    return column_hints(COLUMNS[table.name])


def pipedrive_source(settings: PipedriveSettings | None = None, ctx: RunContext | None = None,
                     tables: Iterable[str] | None = None, client: ApiClient | None = None,
                     account: str | None = None) -> Any:
    """The Pipedrive dlt source. With no arguments its settings come from dlt config (``[sources.pipedrive]``,
    ``SOURCES__PIPEDRIVE__*``; ``account``: ``[sources.pipedrive.<account>]`` first), so
    ``pipedrive_source().with_resources("deals", "dealflow")`` works in any ``dlt.pipeline``."""
    from sources.pipedrive.readers import READERS, PipedriveRun
    from sources.pipedrive.tables import TABLES

    if settings is None:
        from sources.pipedrive.config import pipedrive_settings

        settings = pipedrive_settings(account)
    ctx = ctx or RunContext()
    client = client or make_client(settings)
    # enough requests in flight to fill the plan's burst window at ~250 ms a response
    run = PipedriveRun(client, ctx, settings.start_date, workers=max(2, min(16, settings.rate_limit_burst // 4)),
                       reconcile_every_hours=settings.reconcile_every_hours)
    selected = [TABLES[name] for name in TABLES if tables is None or name in set(tables)]

    @dlt.source(name="pipedrive")
    def pipedrive() -> Any:
        for table in selected:
            # a per-deal table under --full-refresh is rebuilt: rows of deals that no longer exist go.
            # Other tables merge: a full refresh re-reads them whole and marks what vanished.
            rebuild = table.name in ctx.full_refresh and table.reads_per_deal
            disposition = "replace" if rebuild else "merge"
            yield table_resource(table.name, partial(READERS[table.mode], table, run), ctx,
                                 primary_key=table.primary_key, write_disposition=disposition,
                                 columns=_columns(table))

    return pipedrive()


def make_client(settings: PipedriveSettings) -> ApiClient:
    """The run's HTTP client (its ``stats`` count requests and tokens per table)."""
    return pipedrive_client(settings.base_url, settings.api_token, burst=settings.rate_limit_burst)
