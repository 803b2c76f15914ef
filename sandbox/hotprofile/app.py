"""HTTP behaviour of the HotProfile emulator: routing, auth, parameter validation, filters,
ordering, paging, rate limit. ``HotProfileApp(request) -> Response`` plugs into EmulatorServer.
"""
from __future__ import annotations

import bisect
import json
import math
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from sandbox._server import Request, Response, json_bytes

from .data import DATE_FMT, FLAG_OFF, FLAG_ON, TS_FMT, Store

PREFIX = "/rest_api/v1"


@dataclass(frozen=True)
class TableConfig:
    name: str
    cap: int                                   # max page[display_number]
    order_keys: dict[str, str]                 # accepted order[key] -> field
    id_range: bool                             # search[from_id] / search[to_id]
    datetime_updated: bool                     # search[from|to_datetime_updated_on]
    date_filters: dict[str, str]               # search[from|to_<suffix>] (yyyy/mm/dd) -> field
    partial: dict[str, str] = field(default_factory=dict)   # search[x] partial match -> field
    exact_int: dict[str, str] = field(default_factory=dict)  # search[x] exact integer -> field
    flags: tuple[str, ...] = ()                # search[x_flg] = 1 / 0
    default_display: int = 20


TABLES: dict[str, TableConfig] = {
    "clients": TableConfig(
        "clients", 1000,
        # the spec leaves order[key] undocumented ("Over"); accept the obvious ones
        {"id": "id", "created_at": "created_at", "updated_at": "updated_at"},
        id_range=True, datetime_updated=True,
        date_filters={"created_on": "created_at", "updated_on": "updated_at"},
        partial={k: k for k in ("name", "name_kana", "name_disp", "zip", "address", "latitude", "longitude",
                                "corporate_number", "main_tel", "url", "mail_domain", "note")},
    ),
    "leads": TableConfig(
        "leads", 100,
        # spec: "id, create_at, update_at" (sic); accept both spellings
        {"id": "id", "created_at": "created_at", "updated_at": "updated_at",
         "create_at": "created_at", "update_at": "updated_at"},
        id_range=True, datetime_updated=True,
        date_filters={"created_on": "created_at", "updated_on": "updated_at", "trade_on": "trade_on"},
        partial={k: k for k in ("family_name", "first_name", "client_name", "organization_name", "post",
                                "family_name_kana", "first_name_kana", "email", "mobile_email", "tel",
                                "extension", "fax", "mobile_tel", "zip", "pref", "address", "url", "latitude",
                                "longitude", "lead_source", "note", "customer_id", "name")},
        exact_int={"client_id": "client_id", "owner_user_id": "owner_user_id",
                   "organization_id": "organization_id", "lead_status": "lead_status",
                   "lead_source_kbn_ids": "lead_source_kbn_id"},
        flags=("important_customer_flg", "end_user_flg", "store_flg", "competitor_flg", "error_mail_flg",
               "error_tel_flg", "error_fax_flg", "error_address_flg", "not_mail_flg", "not_tel_flg",
               "not_fax_flg", "not_dm_flg"),
    ),
    "business_cards": TableConfig(
        "business_cards", 1000,
        {"id": "id", "trade_on": "trade_on", "updated_at": "updated_at"},
        id_range=False, datetime_updated=False,
        date_filters={"trade_on": "trade_on", "updated_on": "updated_at", "created_on": "created_at"},
        partial={"family_name": "name", "first_name": "name", "family_name_kana": "name_kana",
                 "first_name_kana": "name_kana", "client_name": "client_name",
                 "organization_ancestry_all_name": "organization_name", "post": "post", "tel": "tel", "fax": "fax",
                 "mobile_tel": "mobile_tel", "email": "email", "mobile_email": "mobile_email", "zip": "zip",
                 "address": "address", "url": "url", "note": "note", "direct_note": "direct_note",
                 "lead_source": "lead_source", "request_key": "request_key"},
    ),
}

ROUTES: dict[str, str] = {
    f"{PREFIX}/clients/get_entry_list_flow": "clients",
    f"{PREFIX}/clients/get_entry_list": "clients",
    f"{PREFIX}/leads/get_entry_list_flow": "leads",
    f"{PREFIX}/leads/get_entry_list": "leads",
    f"{PREFIX}/business_cards/get_entry_list": "business_cards",
}

_DATE_RE = re.compile(r"^\d{4}/\d{1,2}/\d{1,2}$")
_DATETIME_RE = re.compile(r"^\d{4}/\d{1,2}/\d{1,2} \d{1,2}:\d{2}:\d{2}$")
_INT_RE = re.compile(r"^-?\d+$")

ERROR_HTML = (
    "<!DOCTYPE html>\n<html>\n<head>\n  <title>We're sorry, but something went wrong (500)</title>\n</head>\n"
    "<body>\n  <div class=\"dialog\">\n    <h1>We're sorry, but something went wrong.</h1>\n  </div>\n"
    "  <!-- {reason} -->\n</body>\n</html>\n"
)


class BadParameter(Exception):
    """A parameter the real API rejects; answered with HTTP 500 (as HotProfile does)."""


def error_500(reason: str) -> Response:
    return Response(500, ERROR_HTML.format(reason=reason.replace("--", "- -")),
                    {"Content-Type": "text/html; charset=utf-8", "X-Sandbox-Error": reason.encode("ascii", "replace").decode()})


def unauthorized() -> Response:
    return Response(401, {"errors": [{"message": "Unauthorized"}]})


class RateLimiter:
    """Sliding window: at most ``limit`` accepted calls within ``period`` seconds (wall clock)."""

    def __init__(self, rate: tuple[int, float] | None) -> None:
        self.rate = rate
        self._calls: deque[float] = deque()
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()

    def check(self) -> float | None:
        """None if the call is allowed (and counts it); else seconds until a slot frees."""
        if not self.rate:
            return None
        limit, period = self.rate
        now = time.monotonic()
        with self._lock:
            while self._calls and self._calls[0] <= now - period:
                self._calls.popleft()
            if len(self._calls) >= limit:
                return self._calls[0] + period - now
            self._calls.append(now)
            return None


def _int(req: Request, name: str, default: int | None = None) -> int | None:
    raw = req.arg(name)
    if raw is None or raw.strip() == "":
        return default
    raw = raw.strip()
    if not _INT_RE.match(raw):
        raise BadParameter(f"{name} must be an integer, got {raw!r}")
    return int(raw)


def _stamp(req: Request, name: str, pattern: re.Pattern, fmt: str, shown: str) -> str | None:
    """A date or datetime argument, normalised to ``fmt`` (unpadded input accepted); bad input → 500."""
    raw = req.arg(name)
    if raw is None or raw.strip() == "":
        return None
    raw = raw.strip()
    try:
        if not pattern.match(raw):
            raise ValueError
        return datetime.strptime(raw, fmt).strftime(fmt)
    except ValueError:
        raise BadParameter(f"{name} must be {shown}, got {raw!r}") from None


def _date(req: Request, name: str) -> str | None:
    return _stamp(req, name, _DATE_RE, DATE_FMT, "yyyy/mm/dd")


def _datetime(req: Request, name: str) -> str | None:
    return _stamp(req, name, _DATETIME_RE, TS_FMT, "yyyy/mm/dd HH:MM:SS")


class HotProfileApp:
    def __init__(self, store: Store, api_key: str = "sandbox-key",
                 rate: tuple[int, float] | None = (100, 60.0), page_cap: dict[str, int] | None = None,
                 lost_rows: dict[str, int] | None = None) -> None:
        self.store = store
        self.api_key = api_key
        self.limiter = RateLimiter(rate)
        # faults: table -> rows a page at most (totals stay truthful, computed at that page size)
        self.page_cap: dict[str, int] = dict(page_cap or {})
        # faults: table -> the last N rows of every answer (in the order asked) are counted in the totals
        # but never served
        self.lost_rows: dict[str, int] = dict(lost_rows or {})
        self.page_hooks: list[Callable[[str, int], Any]] = []
        self._views: dict[tuple[str, str], tuple[int, list[dict[str, Any]], list[Any]]] = {}

    @property
    def rate(self) -> tuple[int, float] | None:
        return self.limiter.rate

    @rate.setter
    def rate(self, value: tuple[int, float] | None) -> None:
        self.limiter.rate = value
        self.limiter.reset()

    # -- entry point ---------------------------------------------------------------------------------
    def __call__(self, req: Request) -> Response:
        table = ROUTES.get(req.path.rstrip("/"))
        if table is None:
            return Response(404, {"errors": [{"message": "Not Found"}]})
        if req.method != "POST":
            return Response(404, {"errors": [{"message": f"No route matches [{req.method}] {req.path}"}]})
        if not req.arg("api_key") or req.arg("api_key") != self.api_key:
            return unauthorized()
        wait = self.limiter.check()
        if wait is not None:
            return Response(429, {"errors": [{"message": "Too Many Requests"}]},
                            {"Retry-After": str(max(1, math.ceil(wait)))})
        try:
            query = self._parse(TABLES[table], req)
        except BadParameter as exc:
            return error_500(str(exc))
        for hook in list(self.page_hooks):
            hook(table, query["page"])
        return self._serve(TABLES[table], query)

    # -- parameters ----------------------------------------------------------------------------------
    def _parse(self, cfg: TableConfig, req: Request) -> dict[str, Any]:
        page = _int(req, "page[number]", 1)
        if page < 1:
            raise BadParameter(f"page[number] must be >= 1, got {page}")
        display = _int(req, "page[display_number]", cfg.default_display)
        if not 1 <= display <= cfg.cap:
            raise BadParameter(f"page[display_number] must be 1..{cfg.cap}, got {display}")
        key_raw = (req.arg("order[key]") or "").strip() or "id"
        if key_raw not in cfg.order_keys:
            raise BadParameter(f"order[key] {key_raw!r} not one of {sorted(cfg.order_keys)}")
        direction = (req.arg("order[type]") or "").strip().lower() or "asc"
        if direction not in ("asc", "desc"):
            raise BadParameter(f"order[type] must be asc or desc, got {direction!r}")
        preds: list[Callable[[dict[str, Any]], bool]] = []
        from_id = to_id = None
        if cfg.id_range:   # business_cards has no id range: silently ignored like any unknown parameter
            from_id, to_id = _int(req, "search[from_id]"), _int(req, "search[to_id]")
        if cfg.datetime_updated:
            lo, hi = _datetime(req, "search[from_datetime_updated_on]"), _datetime(req, "search[to_datetime_updated_on]")
            if lo is not None:
                preds.append(lambda r, v=lo: r["updated_at"] >= v)
            if hi is not None:
                preds.append(lambda r, v=hi: r["updated_at"] <= v)
        for suffix, fld in cfg.date_filters.items():
            lo, hi = _date(req, f"search[from_{suffix}]"), _date(req, f"search[to_{suffix}]")
            if lo is not None:
                preds.append(lambda r, v=lo, f=fld: r[f][:10] >= v)
            if hi is not None:
                preds.append(lambda r, v=hi, f=fld: r[f][:10] <= v)
        for param, fld in cfg.partial.items():
            val = req.arg(f"search[{param}]")
            if val:
                preds.append(lambda r, v=val, f=fld: v in (r[f] or ""))
        for param, fld in cfg.exact_int.items():
            val = _int(req, f"search[{param}]")
            if val is not None:
                preds.append(lambda r, v=val, f=fld: r[f] == v)
        for flg in cfg.flags:
            val = _int(req, f"search[{flg}]")
            if val is not None:
                want = FLAG_ON if val == 1 else FLAG_OFF
                preds.append(lambda r, v=want, f=flg: r[f] == v)
        if cfg.name == "leads" and req.arg("search[ids]"):
            try:
                wanted = {int(x) for x in req.arg("search[ids]").split(",") if x.strip()}
            except ValueError:
                raise BadParameter("search[ids] must be comma-separated integers") from None
            preds.append(lambda r, v=wanted: r["id"] in v)
        return {"page": page, "display": display, "key": cfg.order_keys[key_raw], "desc": direction == "desc",
                "from_id": from_id, "to_id": to_id, "preds": preds}

    # -- serving -------------------------------------------------------------------------------------
    def _view(self, table: str, key: str) -> tuple[list[dict[str, Any]], list[Any]]:
        """Rows sorted by (key, id) ascending, plus the sort keys (ids when key == 'id')."""
        store = self.store
        cached = self._views.get((table, key))
        if cached and cached[0] == store.version:
            return cached[1], cached[2]
        rows = store.rows[table]
        if key == "id":
            view = [rows[i] for i in store.ids[table]]
            keys: list[Any] = list(store.ids[table])
        else:
            view = sorted(rows.values(), key=lambda r: (r[key], r["id"]))
            keys = []
        self._views[(table, key)] = (store.version, view, keys)
        return view, keys

    def _serve(self, cfg: TableConfig, q: dict[str, Any]) -> Response:
        page, display = q["page"], q["display"]
        cap = self.page_cap.get(cfg.name)
        if cap:
            display = min(display, cap)     # a server that serves fewer rows a page than asked for
        with self.store.lock:
            view, keys = self._view(cfg.name, q["key"])
            preds = list(q["preds"])
            lo, hi = 0, len(view)
            if q["key"] == "id":
                if q["from_id"] is not None:
                    lo = bisect.bisect_left(keys, q["from_id"])
                if q["to_id"] is not None:
                    hi = max(lo, bisect.bisect_right(keys, q["to_id"]))
            else:
                if q["from_id"] is not None:
                    preds.append(lambda r, v=q["from_id"]: r["id"] >= v)
                if q["to_id"] is not None:
                    preds.append(lambda r, v=q["to_id"]: r["id"] <= v)
            if preds:
                if len(preds) == 1:
                    p0 = preds[0]
                    rows = [r for r in view[lo:hi] if p0(r)]
                else:
                    rows = [r for r in view[lo:hi] if all(p(r) for p in preds)]
                lo, hi, view = 0, len(rows), rows
            total = hi - lo
            start = (page - 1) * display
            # lost_rows: the answer's last N positions (in the order asked) are counted but never served
            end = min(start + display, total - min(total, self.lost_rows.get(cfg.name, 0)))
            if start >= end:
                items: list[dict[str, Any]] = []
            elif q["desc"]:
                items = view[hi - end:hi - start][::-1]
            else:
                items = view[lo + start:lo + end]
            body = {cfg.name: items, "pages": {"current_number": page, "display_number": display,
                                                "total_count": total,
                                                "total_number": math.ceil(total / display)}}
            # encode under the lock: rows may be mutated by another thread right after
            payload = json_bytes(body)
        return Response(200, payload, {"Content-Type": "application/json; charset=utf-8"})
