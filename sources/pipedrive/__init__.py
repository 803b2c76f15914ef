"""Pipedrive → dlt: one resource per entry of the registry in ``tables.py``.

``pipedrive_source()`` is a plain dlt source: dlt injects its settings from ``[sources.pipedrive]``
(``SOURCES__PIPEDRIVE__*``); ``pipedrive_source.clone(name="eu", section="pipedrive")()`` reads
``[sources.pipedrive.eu]`` first (one company of many).
"""
from __future__ import annotations

from typing import Any, Iterator, Optional, Sequence, Union

import dlt

from sources._http import ApiClient, pipedrive_client
from sources._incremental import RunContext, table_resource
from sources._stats import RunStats
from sources.pipedrive.config import PipedriveSettings, pipedrive_settings

__all__ = ["PipedriveSettings", "pipedrive_source", "make_client"]


@dlt.source(name="pipedrive", section="pipedrive")
def pipedrive_source(
    api_token: Optional[str] = dlt.secrets.value,
    company_domain: Optional[str] = None,           # acme for acme.pipedrive.com
    base_url: Optional[str] = None,                 # instead of company_domain: an emulator or a proxy
    start_date: Optional[str] = None,               # ISO date: the first load reads rows updated since
    rate_limit_burst: Optional[int] = None,         # at most this many requests per 2 s (default: as the server says)
    reconcile_every_hours: float = 24,              # id scan that marks vanished rows deleted; 0 = every run
    checkpoint_minutes: float = 5,                  # crm-elt runs load and commit at least this often
    max_tokens_per_run: Optional[int] = None,       # tokens this pipeline may spend in one run
    max_tokens_per_day: Optional[int] = None,       # ... in one UTC day, all runs together (the company shares
                                                    # its daily budget with every other integration)
    history_tables: Optional[Union[str, Sequence[str]]] = None,  # also load every version into <table>_history
                                                    # (scd2); a list, or comma-separated: deals,persons
    settings: Optional[PipedriveSettings] = None,   # checked settings instead of the values above
    ctx: Optional[RunContext] = None,               # a run's window, full refresh, reconcile, clock
    client: Optional[ApiClient] = None,             # an HTTP client of your own (tests: a fake clock)
    stats: Optional[RunStats] = None,               # collects the run's figures: requests, tokens, seconds, stop
) -> Iterator[Any]:
    from sources._config import table_list
    from sources._history import history_resource
    from sources._schema import column_hints
    from sources.pipedrive.columns import COLUMNS
    from sources.pipedrive.readers import PipedriveRun
    from sources.pipedrive.tables import TABLES

    settings = settings or pipedrive_settings(api_token, company_domain, base_url, start_date, rate_limit_burst,
                                              reconcile_every_hours, checkpoint_minutes, max_tokens_per_run,
                                              max_tokens_per_day, history_tables)
    ctx = ctx or RunContext()
    ctx.checkpoint_minutes, ctx.caps, ctx.settings = settings.checkpoint_minutes, settings.caps, settings
    client = ctx.client = client or ctx.client or make_client(settings, stats)
    # per-deal requests in flight follow the burst the client learned from the server (and the configured cap)
    run = PipedriveRun(client, ctx, TABLES, settings.start_date, burst_cap=settings.rate_limit_burst,
                       reconcile_every_hours=settings.reconcile_every_hours)
    history = table_list(settings.history_tables, "history_tables", TABLES, source="pipedrive")
    for table in TABLES.values():
        # a per-deal table under --full-refresh is rebuilt: rows of deals that no longer exist go.
        # Other tables merge: a full refresh re-reads them whole and marks what vanished.
        rebuild = table.name in ctx.full_refresh and table.reads_per_deal
        columns = column_hints(COLUMNS[table.name])
        resource = table_resource(table.name, lambda table=table: table.read(table, run), client.stats, ctx,
                                  primary_key=table.primary_key, write_disposition="replace" if rebuild else "merge",
                                  columns=columns)
        yield resource
        if table.name in history:           # the same rows, every version: <table>_history (sources/_history.py)
            yield history_resource(resource, columns, key=table.primary_key)


def make_client(settings: PipedriveSettings, stats: RunStats | None = None) -> ApiClient:
    """The run's HTTP client (its ``stats`` count requests and tokens per table)."""
    return pipedrive_client(settings.base_url, settings.api_token, burst=settings.rate_limit_burst,
                            stats=stats or RunStats())
