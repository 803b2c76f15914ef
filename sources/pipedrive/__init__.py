"""Pipedrive → dlt: resources built from the registry in ``settings.py``."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Iterable, Iterator

import dlt

from sources._http import ApiClient, pipedrive_client
from sources._incremental import Cursor, RunContext, parse_time, rfc3339, table_resource
from sources.pipedrive.paginators import PAGINATORS
from sources.pipedrive.settings import TABLES, Table


@dataclass
class PipedriveSettings:
    base_url: str
    api_token: str
    start_date: datetime | None = None
    rate_limit_burst: int = 20


def read_cdc(table: Table, client: ApiClient, ctx: RunContext, start_date: datetime | None) -> Iterator[list[dict]]:
    cursor = Cursor(dlt.current.resource_state(), table=table.name, ctx=ctx, start_date=start_date)
    params = {**table.params, "limit": table.page_size, "sort_by": table.cursor_field, "sort_direction": "asc",
              "updated_since": rfc3339(cursor.since), "updated_until": rfc3339(cursor.until)}
    when = lambda row: parse_time(row.get(table.cursor_field))  # noqa: E731
    for endpoint in table.endpoints:
        for page in PAGINATORS[table.paging](client, endpoint.path, params, table=table.name, cost=endpoint.cost):
            rows = list(cursor.filter(page, when))
            if rows:
                yield rows
    cursor.commit()


def read_full(table: Table, client: ApiClient, ctx: RunContext, start_date: datetime | None) -> Iterator[list[dict]]:
    params = {**table.params, "limit": table.page_size} if table.paging != "none" else dict(table.params)
    for endpoint in table.endpoints:
        yield from PAGINATORS[table.paging](client, endpoint.path, params, table=table.name, cost=endpoint.cost)


READERS = {"cdc": read_cdc, "full": read_full}


def _columns(table: Table) -> dict[str, Any]:
    hints = {name: {"data_type": "timestamp", "timezone": True} for name in table.timestamps}
    hints.update({name: {"data_type": "date"} for name in table.dates})
    return hints


def pipedrive_source(settings: PipedriveSettings, ctx: RunContext | None = None,
                     tables: Iterable[str] | None = None, client: ApiClient | None = None) -> Any:
    ctx = ctx or RunContext()
    client = client or pipedrive_client(settings.base_url, settings.api_token, burst=settings.rate_limit_burst)
    selected = [TABLES[name] for name in (tables or TABLES)]

    @dlt.source(name="pipedrive")
    def pipedrive() -> Any:
        for table in selected:
            read = partial(READERS[table.mode], table, client, ctx, settings.start_date)
            yield table_resource(table.name, read, ctx, primary_key=table.primary_key,
                                 write_disposition=table.write_disposition, columns=_columns(table))

    source = pipedrive()
    source.client = client
    return source
