"""HotProfile → dlt: resources built from the registry in ``settings.py``."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any, Iterable, Iterator
from zoneinfo import ZoneInfo

import dlt

from sources._http import ApiClient, hotprofile_client
from sources._incremental import Cursor, RunContext, table_resource
from sources.hotprofile.paginators import PAGINATORS
from sources.hotprofile.settings import DATETIME_FORMAT, TABLES, Table

JST = ZoneInfo("Asia/Tokyo")


@dataclass
class HotProfileSettings:
    url_instance: str
    api_key: str
    start_date: datetime | None = None
    lag: timedelta = timedelta(minutes=10)


def origin(url_instance: str) -> str:
    """``example.hot-profile.com`` → ``https://example.hot-profile.com``; full origins pass through."""
    url = url_instance.strip().rstrip("/")
    return url if "://" in url else f"https://{url}"


def parse_jst(value: Any) -> datetime | None:
    """HotProfile timestamps are naive Japan time (``yyyy/mm/dd HH:MM:SS``); return aware UTC."""
    if not value:
        return None
    text = str(value).strip().replace("-", "/").replace("T", " ")
    for fmt in (DATETIME_FORMAT, "%Y/%m/%d %H:%M", "%Y/%m/%d"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=JST).astimezone(timezone.utc)
        except ValueError:
            continue
    raise ValueError(f"unrecognised HotProfile timestamp {value!r}")


def to_jst(value: datetime, fmt: str) -> str:
    return value.astimezone(JST).strftime(fmt)


def normalize(row: dict, table: Table) -> dict:
    for name in table.timestamps:
        if name in row:
            row[name] = parse_jst(row[name])
    for name in table.text_columns:
        value = row.get(name)
        if value is not None and not isinstance(value, str):
            row[name] = str(value).zfill(13) if name == "corporate_number" else str(value)
    items = row.get("items")
    if isinstance(items, list):
        row["items"] = [{**item, "value": None if item.get("value") is None else str(item["value"])}
                        if isinstance(item, dict) else {"value": str(item)} for item in items]
    return row


def read_table(table: Table, client: ApiClient, ctx: RunContext, settings: HotProfileSettings) -> Iterator[list[dict]]:
    cursor = Cursor(dlt.current.resource_state(), table=table.name, ctx=ctx, start_date=settings.start_date,
                    lag=settings.lag, cap_at_run_start=True)
    params = {table.since_param: cursor.since and to_jst(cursor.since, table.filter_format),
              table.until_param: cursor.until and to_jst(cursor.until, table.filter_format)}
    for page in PAGINATORS[table.paging](client, table, params):
        rows = list(cursor.filter((normalize(row, table) for row in page), lambda row: row.get("updated_at")))
        if rows:
            yield rows
    cursor.commit()


def _columns(table: Table) -> dict[str, Any]:
    hints: dict[str, Any] = {name: {"data_type": "timestamp", "timezone": True} for name in table.timestamps}
    hints.update({name: {"data_type": "text"} for name in table.text_columns})
    hints["updated_at"]["dedup_sort"] = "desc"
    return hints


def hotprofile_source(settings: HotProfileSettings, ctx: RunContext | None = None,
                      tables: Iterable[str] | None = None, client: ApiClient | None = None) -> Any:
    ctx = ctx or RunContext()
    client = client or hotprofile_client(origin(settings.url_instance), settings.api_key)
    selected = [TABLES[name] for name in (tables or TABLES)]

    @dlt.source(name="hotprofile")
    def hotprofile() -> Any:
        for table in selected:
            read = partial(read_table, table, client, ctx, settings)
            yield table_resource(table.name, read, ctx, primary_key="id", write_disposition="merge",
                                 columns=_columns(table))

    source = hotprofile()
    source.client = client
    return source
