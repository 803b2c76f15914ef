"""Pipedrive paging styles: v2 opaque cursor, v1 start/limit, unpaginated lists.

Keyword arguments go to ``ApiClient.get`` (e.g. ``missing_ok``: a 404 ends the listing with no rows).
"""
from __future__ import annotations

from typing import Any, Iterator

from sources._errors import ApiError
from sources._http import ApiClient


def _data(body: Any, path: str) -> list[dict]:
    if body is None:                                     # 404 with missing_ok: the object is gone
        return []
    if not isinstance(body, dict) or not body.get("success", True) or "data" not in body:
        raise ApiError(f"Pipedrive answered {path} without a data list: {str(body)[:200]}")
    return body["data"] or []                            # v1 sends "data": null for an empty page


def _more(body: Any) -> dict:
    return (body or {}).get("additional_data") or {}


def v2_pages(client: ApiClient, path: str, params: dict, **kw: Any) -> Iterator[list[dict]]:
    """``additional_data.next_cursor`` paging; ``limit`` ≤ 500."""
    cursor = None
    while True:
        body = client.get(path, {**params, "cursor": cursor}, **kw)
        yield _data(body, path)
        cursor = _more(body).get("next_cursor")
        if not cursor:
            return


def v1_pages(client: ApiClient, path: str, params: dict, overlap: int = 0, **kw: Any) -> Iterator[list[dict]]:
    """``start``/``limit`` paging driven by ``additional_data.pagination``; ``overlap`` rows of each page
    are asked again with the next one (the caller drops the repeats)."""
    start = 0
    while True:
        body = client.get(path, {**params, "start": start}, **kw)
        rows = _data(body, path)
        yield rows
        pagination = _more(body).get("pagination") or {}
        if not pagination.get("more_items_in_collection"):
            return
        start = max(start + 1, pagination.get("next_start", start + len(rows)) - overlap)


def single_page(client: ApiClient, path: str, params: dict, **kw: Any) -> Iterator[list[dict]]:
    yield _data(client.get(path, params, **kw), path)


PAGINATORS = {"v2": v2_pages, "v1": v1_pages, "none": single_page}
