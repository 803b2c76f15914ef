"""HotProfile paging: every call is a POST with its arguments in the query string, rows in id order.

Never ordered by ``updated_at``: a row updated while a scan runs would move behind the scan's position
and be skipped. In id order an update leaves the row where it is.
"""
from __future__ import annotations

import logging
import math
from typing import Any, Iterator

from sources._http import ApiClient, ApiError
from sources.hotprofile.settings import Table

log = logging.getLogger("crm_elt.hotprofile")


def _rows(body: Any, table: Table) -> list[dict]:
    # A 200 without the table's key (an HTML maintenance page, {"errors": ...}) is an error, not an empty page.
    if not isinstance(body, dict) or not isinstance(body.get(table.name), list):
        raise ApiError(f"HotProfile answered {table.path} without a '{table.name}' list: {str(body)[:200]}")
    return body[table.name]


def _pages_info(body: dict) -> tuple[int | None, int | None]:
    pages = body.get("pages")
    if not isinstance(pages, dict):
        return None, None
    try:
        count = int(pages["total_count"]) if pages.get("total_count") is not None else None
        number = int(pages["total_number"]) if pages.get("total_number") is not None else None
    except (TypeError, ValueError):
        return None, None
    return count, number


def _post(client: ApiClient, table: Table, query: dict, first: bool) -> dict:
    # HotProfile answers 500 to invalid arguments: on the first call that is a bad parameter, not an outage.
    return client.post(table.path, query, table=table.name, retry_server_errors=not first)


def keyset_pages(client: ApiClient, table: Table, params: dict) -> Iterator[list[dict]]:
    """Ascending ids with ``search[from_id]``: rows inserted, updated or deleted meanwhile cannot shift a page."""
    from_id = None
    first = True
    while True:
        query = {**params, "page[number]": 1, "page[display_number]": table.page_size,
                 "order[key]": "id", "order[type]": "asc", "search[from_id]": from_id}
        rows = _rows(_post(client, table, query, first), table)
        first = False
        if rows:
            yield rows
        if len(rows) < table.page_size:
            return
        next_id = max(int(row["id"]) for row in rows) + 1
        if from_id is not None and next_id <= from_id:
            # a call that ignores search[from_id] would serve the same page forever
            raise ApiError(f"HotProfile ignored search[from_id] on {table.path}: the page did not advance; "
                           f"use the get_entry_list_flow call for {table.name}")
        from_id = next_id


def numbered_pages(client: ApiClient, table: Table, params: dict) -> Iterator[list[dict]]:
    """``page[number]`` in id order (business cards have no ``search[from_id]``).

    Stops at ``total_number`` or at a short page. Inserted rows get higher ids and land behind the scan,
    updated rows keep their place; a deleted row shifts later rows one place forward, so when
    ``total_count`` shrinks the scan steps back far enough to re-read the rows that moved onto pages
    already read (duplicates are merged away).
    """
    size = table.page_size
    page, first, count, last_id, rereading_until = 1, True, None, None, 0
    while True:
        query = {**params, "page[number]": page, "page[display_number]": size, "order[key]": "id", "order[type]": "asc"}
        body = _post(client, table, query, first)
        rows = _rows(body, table)
        first = False
        now_count, total_number = _pages_info(body)
        if rows:
            top = max(int(row["id"]) for row in rows)
            if last_id is not None and top <= last_id and page > rereading_until:
                raise ApiError(f"HotProfile answered page {page} of {table.path} with rows already read "
                               "(is page[number] ignored?); stopping instead of looping")
            last_id = top if last_id is None else max(last_id, top)
            yield rows
        if count is not None and now_count is not None and now_count < count and page > 1:
            back = math.ceil((count - now_count) / size)
            log.info("%s: %d row(s) vanished while paging; re-reading from page %d", table.name,
                     count - now_count, max(1, page - back))
            count = now_count
            rereading_until = max(rereading_until, page)
            page = max(1, page - back)
            continue
        if now_count is not None:
            count = now_count
        if len(rows) < size or (total_number is not None and page >= total_number):
            return
        page += 1


def all_pages(client: ApiClient, table: Table) -> Iterator[list[dict]]:
    """Every row, the cheapest way (largest page, no date filter): the reconcile id scan."""
    return PAGINATORS[table.paging](client, table, {})


PAGINATORS = {"keyset": keyset_pages, "numbered": numbered_pages}
