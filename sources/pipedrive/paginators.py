"""Pipedrive paging styles: v2 opaque cursor, v1 start/limit, unpaginated lists."""
from __future__ import annotations

from typing import Any, Iterator

from sources._http import ApiClient, ApiError


def _data(body: Any, path: str) -> list[dict]:
    if not isinstance(body, dict) or not body.get("success", True) or "data" not in body:
        raise ApiError(f"Pipedrive answered {path} without a data list: {str(body)[:200]}")
    return body["data"] or []


def v2_pages(client: ApiClient, path: str, params: dict, *, table: str, cost: int) -> Iterator[list[dict]]:
    """``additional_data.next_cursor`` paging; ``limit`` ≤ 500."""
    cursor = None
    while True:
        body = client.get(path, {**params, "cursor": cursor}, table=table, cost=cost)
        yield _data(body, path)
        cursor = (body.get("additional_data") or {}).get("next_cursor")
        if not cursor:
            return


def v1_pages(client: ApiClient, path: str, params: dict, *, table: str, cost: int) -> Iterator[list[dict]]:
    """``start``/``limit`` paging driven by ``additional_data.pagination``."""
    start = 0
    while True:
        body = client.get(path, {**params, "start": start}, table=table, cost=cost)
        yield _data(body, path)
        pagination = (body.get("additional_data") or {}).get("pagination") or {}
        if not pagination.get("more_items_in_collection"):
            return
        start = pagination.get("next_start", start + len(body["data"] or []))


def single_page(client: ApiClient, path: str, params: dict, *, table: str, cost: int) -> Iterator[list[dict]]:
    yield _data(client.get(path, params, table=table, cost=cost), path)


PAGINATORS = {"v2": v2_pages, "v1": v1_pages, "none": single_page}
