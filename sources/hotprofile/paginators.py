"""HotProfile paging: every call is a POST with its arguments in the query string, rows in id order.

Never ordered by ``updated_at``: a row updated while a scan runs would move behind the scan position
and be skipped. In id order an update leaves the row where it is.

A scan ends by the API's own totals, never by a short page: a server may serve fewer rows per page than
``page[display_number]`` asks for. Each response carries ``pages.total_count`` (rows matching the query:
with ``search[from_id]`` the rows from that id on, so it shrinks as a keyset scan advances) and
``pages.total_number`` (pages of that many rows at the page size served). Rows and totals of one response
are one snapshot, so "the totals say rows remain, the page has none" cannot come from rows inserted or
deleted meanwhile: it fails the table (``ApiError``): its cursor does not move and the run says so. Without totals, or
with totals that count fewer rows than were sent (a capped count), a scan ends at the first empty page
(one request more).
"""
from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any, Iterator

from sources._config import config_key
from sources._errors import ApiError
from sources._http import ApiClient

if TYPE_CHECKING:
    from sources.hotprofile.tables import Table

log = logging.getLogger("crm_elt.hotprofile")
SUPPORT = "the next run reads it again; if this persists, report it to HotProfile support"


def _rows(body: Any, table: Table) -> list[dict]:
    # A 200 without the table's key (an HTML maintenance page, {"errors": ...}) is an error, not an empty page.
    if not isinstance(body, dict) or not isinstance(body.get(table.name), list):
        raise ApiError(f"HotProfile answered without a '{table.name}' list: {str(body)[:200]}", f"POST {table.path}",
                       SUPPORT)
    return body[table.name]


def _pages_info(body: dict) -> tuple[int | None, int | None]:
    """(total_count, total_number) of a response; None where absent or not a number."""
    pages = body.get("pages")
    if not isinstance(pages, dict):
        return None, None
    return _count(pages.get("total_count")), _count(pages.get("total_number"))


def _count(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def _post(client: ApiClient, table: Table, query: dict, stats: str | None) -> dict:
    # HotProfile also answers 500 to invalid arguments; ours are checked before the first call (settings,
    # dates), so a 500 is an outage and is retried like any other.
    return client.post(table.path, query, table=stats or table.name)


def _short_by(table: Table, detail: str, read: int, total: int | None) -> ApiError:
    of = f" of {total}" if total is not None else ""
    return ApiError(f"HotProfile's pages ended early: {detail}; read {read}{of} rows", f"POST {table.path}",
                    "the table keeps its cursor and the next run reads it again; if this persists, report it to "
                    "HotProfile support")


def keyset_pages(client: ApiClient, table: Table, params: dict, stats: str | None = None,
                 start_id: int | None = None) -> Iterator[list[dict]]:
    """Ascending ids with ``search[from_id]``: rows inserted, updated or deleted meanwhile cannot shift a page.

    Ends when a page holds every row its ``total_count`` says remain; a short page with more remaining
    (the server caps the page size) goes on from the next id. ``start_id``: resume a scan there.
    """
    from_id = start_id
    first, counted = True, True
    read, total = 0, None
    while True:
        query = {**params, "page[number]": 1, "page[display_number]": table.page_size,
                 "order[key]": "id", "order[type]": "asc", "search[from_id]": from_id}
        body = _post(client, table, query, stats)
        rows = _rows(body, table)
        remaining, _ = _pages_info(body)
        if counted and remaining is not None and len(rows) > remaining:
            counted = _distrust(table, len(rows), remaining)
        if not counted:
            remaining = None             # from here on an empty page ends the scan
        if first:
            total = remaining
            _served_size(table, len(rows), remaining)      # says so when the server caps the page size
        first = False
        if not rows:
            if remaining and remaining == total and read >= total:
                return      # a total_count of the whole query, not of the ids from from_id: all read
            if remaining:
                raise _short_by(table, f"the API counts {remaining} more row(s)"
                                       f"{f' from id {from_id}' if from_id else ''} (pages.total_count) but sent none", read, total)
            return
        read += len(rows)
        yield rows
        if remaining is not None and len(rows) >= remaining:
            return
        next_id = max(int(row["id"]) for row in rows) + 1
        if from_id is not None and next_id <= from_id:
            # a call that ignores search[from_id] would serve the same page forever
            raise ApiError("HotProfile ignored search[from_id]: the page did not advance; stopped instead of "
                           "looping", f"POST {table.path}", f"set {config_key(table.name + '_path')} to the get_entry_list_flow call")
        from_id = next_id


def numbered_pages(client: ApiClient, table: Table, params: dict, stats: str | None = None) -> Iterator[list[dict]]:
    """``page[number]`` in **descending** id order (business cards have no ``search[from_id]``).

    Pages are as long as the server makes them (the first page that is not the last one tells). Ends when
    the pages read cover ``total_count`` (or, without it, ``total_number``).

    Descending, because page numbers are positions: a new card gets the highest id and lands in front of
    the scan, moving the rows behind it one place back (a row read twice, merged away), while a deleted
    row moves the rows behind it one place forward (a row skipped). Any skip therefore shows as a
    shrinking ``total_count`` (an insert meanwhile cannot hide it, as it would in ascending order), and
    the scan steps back far enough to re-read the rows that moved onto pages already read. Updated rows
    keep their place.
    """
    asked = table.page_size
    page, first, count, lowest, rereading_until, counted = 1, True, None, None, 0, True
    size: int | None = None          # rows per page as served
    read: set[Any] = set()
    while True:
        query = {**params, "page[number]": page, "page[display_number]": asked, "order[key]": "id",
                 "order[type]": "desc"}
        body = _post(client, table, query, stats)
        rows = _rows(body, table)
        first = False
        now_count, total_number = _pages_info(body)
        if rows:
            bottom = min(int(row["id"]) for row in rows)
            if lowest is not None and bottom >= lowest and page > rereading_until and \
                    (count is None or now_count is None or now_count <= count):
                raise ApiError(f"HotProfile answered page {page} with rows already read (is page[number] "
                               "ignored?); stopped instead of looping", f"POST {table.path}", SUPPORT)
            lowest = bottom if lowest is None else min(lowest, bottom)
            read.update(row.get("id") for row in rows)
            yield rows
        if size is None:
            size = _served_size(table, len(rows), now_count)
        covered = (page - 1) * size + len(rows)      # rows up to the end of this page, in this response
        if counted and now_count is not None and covered > now_count:
            counted = _distrust(table, covered, now_count)
        if not counted:
            now_count = total_number = None          # from here on an empty page ends the scan
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
            if covered >= now_count:
                return
            if len(rows) < size:
                raise _short_by(table, f"page {page} sent {len(rows)} row(s) though pages.total_count is "
                                       f"{now_count} ({size} a page)", len(read), now_count)
        elif total_number is not None:
            if page >= total_number:
                return
            if not rows:
                raise _short_by(table, f"page {page} of {total_number} (pages.total_number) came back empty",
                                len(read), None)
        elif not rows:
            return
        page += 1


def _distrust(table: Table, rows: int, count: int) -> bool:
    log.warning("%s: the API sent %d row(s) where pages.total_count says %d; not trusting its totals, "
                "paging on to an empty page", table.name, rows, count)
    return False


def _served_size(table: Table, served: int, count: int | None) -> int:
    """Rows per page the server makes, from the first page: all of it unless it is also the last one."""
    asked = table.page_size
    if count is None or served >= count or served == 0:
        return asked
    if served < asked:
        log.info("%s: the server serves %d rows a page (asked for %d); paging on by total_count",
                 table.name, served, asked)
    return served


def all_pages(client: ApiClient, table: Table) -> Iterator[list[dict]]:
    """Every row, the cheapest way (largest page, no date filter): the reconcile id scan. Its requests
    count under ``<table> (reconcile)`` (a line of its own in the run summary)."""
    return table.paging(client, table, {}, stats=f"{table.name} (reconcile)")
