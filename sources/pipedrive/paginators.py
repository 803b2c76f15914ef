"""Pipedrive paging styles, as objects a registry entry names: ``CURSOR`` (v2 ``next_cursor``), ``OFFSET``
(v1 ``start``/``limit``), ``ONE_PAGE`` (unpaginated v1 lists).

Keyword arguments of ``pages`` go to ``ApiClient.get`` (e.g. ``missing_ok``: a 404 ends the listing with no
rows).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from sources._errors import ApiError
from sources._http import ApiClient

V2_LIMIT = 500          # v2 lists: limit ≤ 500
V1_LIMIT = 500          # v1 lists (files: ≤ 100)
SUPPORT = "the next run reads it again; if this persists, report it to Pipedrive support"


def _data(body: Any, path: str) -> list[dict]:
    if body is None:                                     # 404 with missing_ok: the object is gone
        return []
    if not isinstance(body, dict) or not body.get("success", True) or "data" not in body:
        raise ApiError(f"Pipedrive answered without a data list: {str(body)[:200]}", f"GET {path}", SUPPORT)
    return body["data"] or []                            # v1 sends "data": null for an empty page


def _stuck(path: str, what: str) -> ApiError:
    """A list that does not advance would spend requests and tokens forever: the table fails instead."""
    return ApiError(f"{what}; stopped instead of looping", f"GET {path}", SUPPORT)


def _more(body: Any) -> dict:
    return (body or {}).get("additional_data") or {}


@dataclass(frozen=True)
class CursorPaging:
    """v2: ``additional_data.next_cursor``; ``limit`` ≤ 500; sorts with ``sort_by``/``sort_direction``."""

    limited: bool = True                 # takes ``limit``
    overlap: int = 0                     # a cursor does not shift when a row is deleted mid-scan

    def pages(self, client: ApiClient, path: str, params: dict, overlap: int = 0, **kw: Any) -> Iterator[list[dict]]:
        cursor, seen = None, set()
        while True:
            body = client.get(path, {**params, "cursor": cursor}, **kw)
            yield _data(body, path)
            cursor = _more(body).get("next_cursor")
            if not cursor:
                return
            if cursor in seen:
                raise _stuck(path, f"next_cursor came back to a page already read (after {len(seen) + 1} pages)")
            seen.add(cursor)

    def id_order(self, page_size: int) -> dict[str, Any]:
        return {"limit": V2_LIMIT, "sort_by": "id", "sort_direction": "asc"}


@dataclass(frozen=True)
class OffsetPaging:
    """v1: ``start``/``limit`` driven by ``additional_data.pagination``. Offsets shift when a row is
    deleted mid-scan: scans that must see every row re-read ``overlap`` rows of each page."""

    limited: bool = True
    overlap: int = 5

    def pages(self, client: ApiClient, path: str, params: dict, overlap: int = 0, **kw: Any) -> Iterator[list[dict]]:
        start, reached = 0, 0
        while True:
            body = client.get(path, {**params, "start": start}, **kw)
            rows = _data(body, path)
            yield rows
            pagination = _more(body).get("pagination") or {}
            if not pagination.get("more_items_in_collection"):
                return
            next_start = pagination.get("next_start", start + len(rows))
            if not rows or not isinstance(next_start, int) or next_start <= reached:
                raise _stuck(path, f"pagination did not advance (start {start}, next_start {next_start}, "
                                       f"{len(rows)} rows, more_items_in_collection)")
            reached = next_start
            start = max(start + 1, next_start - overlap)

    def id_order(self, page_size: int) -> dict[str, Any]:
        return {"limit": page_size, "sort": "id ASC"}


@dataclass(frozen=True)
class OnePage:
    """An unpaginated list (users, currencies, ...): one request."""

    limited: bool = False
    overlap: int = 0

    def pages(self, client: ApiClient, path: str, params: dict, overlap: int = 0, **kw: Any) -> Iterator[list[dict]]:
        yield _data(client.get(path, params, **kw), path)

    def id_order(self, page_size: int) -> dict[str, Any]:
        return {}


CURSOR, OFFSET, ONE_PAGE = CursorPaging(), OffsetPaging(), OnePage()

