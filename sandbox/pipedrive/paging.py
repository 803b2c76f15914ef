"""Parameter parsing and paging (v2 keyset cursors, v1 offset paging)."""
from __future__ import annotations

import base64
import json
from bisect import bisect_left, bisect_right
from operator import itemgetter
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable

from sandbox._server import Request


class ApiError(Exception):
    def __init__(self, status: int, error: str, info: str | None = None):
        super().__init__(error)
        self.status, self.error, self.info = status, error, info

    def body(self) -> dict:
        body = {"success": False, "error": self.error, "errorCode": self.status}
        if self.info:
            body["error_info"] = self.info
        return body


def int_arg(req: Request, name: str, default: int | None = None) -> int | None:
    raw = req.arg(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, f"Parameter '{name}' must be an integer", f"got {raw!r}") from None


def bool_arg(req: Request, name: str) -> bool | None:
    raw = req.arg(name)
    if raw is None or raw == "":
        return None
    if raw.lower() in ("1", "true"):
        return True
    if raw.lower() in ("0", "false"):
        return False
    raise ApiError(400, f"Parameter '{name}' must be a boolean", f"got {raw!r}")


def ids_arg(req: Request, name: str, maximum: int = 100) -> list[int] | None:
    raw = req.arg(name)
    if raw is None or raw == "":
        return None
    try:
        ids = [int(x) for x in raw.split(",") if x.strip()]
    except ValueError:
        raise ApiError(400, f"Parameter '{name}' must be a comma separated list of integers") from None
    if len(ids) > maximum:
        raise ApiError(400, f"Parameter '{name}' accepts at most {maximum} ids", f"got {len(ids)}")
    return ids


def time_arg(req: Request, name: str) -> str | None:
    """RFC3339 -> 'YYYY-MM-DDTHH:MM:SSZ' rounded *up* to a whole second (rows have second precision)."""
    raw = req.arg(name)
    if raw is None or raw == "":
        return None
    try:
        dt = datetime.fromisoformat(raw.replace(" ", "T").replace("z", "Z"))
    except ValueError:
        raise ApiError(400, f"Parameter '{name}' must be an RFC3339 date-time", f"got {raw!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    dt = dt.astimezone(timezone.utc)
    if dt.microsecond:
        dt = dt.replace(microsecond=0) + timedelta(seconds=1)
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def encode_cursor(field: str, value: Any, direction: str, rid: Any) -> str:
    raw = json.dumps({"field": field, "fieldValue": value, "sortDirection": direction, "id": rid},
                     separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(data, dict) or not {"field", "fieldValue", "sortDirection", "id"} <= set(data):
            raise ValueError
        return data
    except Exception:
        raise ApiError(400, "Invalid cursor", f"cannot decode cursor {cursor!r}") from None


def _key(value: Any, rid: Any) -> tuple:
    return ("" if value is None else value, rid)


def v2_page(req: Request, rows: Iterable[dict], sort_fields: tuple[str, ...],
            page_cap: int = 500) -> tuple[list[dict], str | None]:
    """Sort + keyset-page ``rows``; returns (page, next_cursor). ``page_cap``: the most rows a page holds
    whatever ``limit`` asks (a server may return fewer; only ``next_cursor`` says whether more follow)."""
    limit = int_arg(req, "limit", 100)
    if limit > 500:
        raise ApiError(400, "Parameter 'limit' must be at most 500", f"got {limit}")
    if limit < 1:
        raise ApiError(400, "Parameter 'limit' must be a positive integer", f"got {limit}")
    limit = min(limit, page_cap)
    sort_by = req.arg("sort_by") or "id"
    if sort_by not in sort_fields:
        raise ApiError(400, f"Parameter 'sort_by' must be one of {', '.join(sort_fields)}", f"got {sort_by!r}")
    direction = (req.arg("sort_direction") or "asc").lower()
    if direction not in ("asc", "desc"):
        raise ApiError(400, "Parameter 'sort_direction' must be asc or desc", f"got {direction!r}")
    pairs = [(("" if r[sort_by] is None else r[sort_by], r["id"]), r) for r in rows]
    pairs.sort(key=itemgetter(0))
    keys = [p[0] for p in pairs]
    ordered = [p[1] for p in pairs]
    cursor = req.arg("cursor")
    if direction == "asc":
        lo = 0
        if cursor:
            c = decode_cursor(cursor)
            if c["field"] != sort_by or c["sortDirection"] != direction:
                raise ApiError(400, "Invalid cursor", "cursor was issued for another sort order")
            lo = bisect_right(keys, _key(c["fieldValue"], c["id"]))
        page = ordered[lo:lo + limit]
        more = lo + limit < len(ordered)
    else:
        hi = len(ordered)
        if cursor:
            c = decode_cursor(cursor)
            if c["field"] != sort_by or c["sortDirection"] != direction:
                raise ApiError(400, "Invalid cursor", "cursor was issued for another sort order")
            hi = bisect_left(keys, _key(c["fieldValue"], c["id"]))
        page = ordered[max(0, hi - limit):hi][::-1]
        more = hi - limit > 0
    next_cursor = encode_cursor(sort_by, page[-1][sort_by], direction, page[-1]["id"]) if more and page else None
    return page, next_cursor


def parse_v1_sort(raw: str | None, allowed: tuple[str, ...]) -> list[tuple[str, bool]]:
    if not raw:
        return []
    out = []
    for part in raw.split(","):
        bits = part.strip().split()
        if not bits:
            continue
        field = bits[0]
        desc = len(bits) > 1 and bits[1].upper() == "DESC"
        if field not in allowed or (len(bits) > 1 and bits[1].upper() not in ("ASC", "DESC")):
            raise ApiError(400, f"Invalid sort field or direction: {part.strip()!r}",
                           f"supported fields: {', '.join(allowed)}")
        out.append((field, desc))
    return out


def v1_page(req: Request, rows: list[dict], sort: list[tuple[str, bool]], max_limit: int = 500,
            render: Callable[[dict], dict] = lambda r: r) -> tuple[list[dict], dict]:
    """Sort (stable, last key first) + offset-page; returns (page, additional_data)."""
    start = int_arg(req, "start", 0)
    limit = int_arg(req, "limit", 100)
    if start < 0 or limit < 1:
        raise ApiError(400, "Parameters 'start' and 'limit' must be positive")
    limit = min(limit, max_limit)
    rows = sorted(rows, key=lambda r: r["id"])
    for field, desc in reversed(sort):
        rows.sort(key=lambda r: ("" if r[field] is None else r[field]), reverse=desc)
    page = [render(r) for r in rows[start:start + limit]]
    more = start + limit < len(rows)
    pagination = {"start": start, "limit": limit, "more_items_in_collection": more}
    if more:
        pagination["next_start"] = start + limit
    return page, {"pagination": pagination}
