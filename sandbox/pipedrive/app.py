"""HTTP side of the Pipedrive emulator: routing, auth, burst limits, token accounting, endpoints."""
from __future__ import annotations

import json
import re
import threading
from typing import Any, Callable

from sandbox._server import Request, Response, json_bytes

from .data import Dataset
from .limits import CLOUDFLARE_HTML, BurstLimiter, TokenBudget
from .optional import INCLUDE_FIELDS
from .paging import ApiError, bool_arg, ids_arg, int_arg, parse_v1_sort, time_arg, v1_page, v2_page

# x-token-cost of each served GET operation (openapi-v1.yaml / openapi-v2.yaml)
TOKEN_COST: dict[str, int] = {
    "/api/v2/deals": 10, "/api/v2/deals/archived": 20, "/api/v2/deals/products": 10,
    "/api/v2/persons": 10, "/api/v2/organizations": 10, "/api/v2/activities": 10, "/api/v2/products": 10,
    "/api/v2/pipelines": 5, "/api/v2/stages": 5,
    "/v1/deals/{id}/flow": 40, "/v1/deals/{id}/participants": 10,
    "/v1/deals/summary": 40, "/v1/deals/summary/archived": 40,
    "/v1/leads": 20, "/v1/leads/archived": 40, "/v1/notes": 20, "/v1/files": 20, "/v1/users": 20, "/v1/activityTypes": 20,
    "/v1/currencies": 20, "/v1/filters": 20, "/v1/dealFields": 20, "/v1/personFields": 20,
    "/v1/organizationFields": 20, "/v1/productFields": 20, "/v1/activityFields": 20,
}

FIELD_ROUTES = {"/v1/dealFields": "deal", "/v1/personFields": "person", "/v1/organizationFields": "organization",
                "/v1/productFields": "product", "/v1/activityFields": "activity"}


class PipedriveApp:
    def __init__(self, data: Dataset, token: str, burst: int = 20, window: float = 2.0,
                 daily_budget: int | None = None, v1_empty_null: bool = True, page_cap: int = 500):
        self.data = data
        self.page_cap = page_cap
        self.token = token
        self.limiter = BurstLimiter(burst, window)
        self.budget = TokenBudget(daily_budget)
        self.v1_empty_null = v1_empty_null
        self._lock = threading.Lock()
        self.routes: list[tuple[re.Pattern, str, Callable[..., dict]]] = [
            (re.compile(r"^/api/v2/deals$"), "/api/v2/deals", lambda r: self.deals(r, archived=False)),
            (re.compile(r"^/api/v2/deals/archived$"), "/api/v2/deals/archived", lambda r: self.deals(r, archived=True)),
            (re.compile(r"^/api/v2/deals/products$"), "/api/v2/deals/products", self.deal_products),
            (re.compile(r"^/api/v2/persons$"), "/api/v2/persons", self.persons),
            (re.compile(r"^/api/v2/organizations$"), "/api/v2/organizations", self.organizations),
            (re.compile(r"^/api/v2/activities$"), "/api/v2/activities", self.activities),
            (re.compile(r"^/api/v2/products$"), "/api/v2/products", self.products),
            (re.compile(r"^/api/v2/pipelines$"), "/api/v2/pipelines", self.pipelines),
            (re.compile(r"^/api/v2/stages$"), "/api/v2/stages", self.stages),
            (re.compile(r"^/v1/deals/(\d+)/flow$"), "/v1/deals/{id}/flow", self.flow),
            (re.compile(r"^/v1/deals/summary$"), "/v1/deals/summary", lambda r: self.deals_summary(r, archived=False)),
            (re.compile(r"^/v1/deals/summary/archived$"), "/v1/deals/summary/archived",
             lambda r: self.deals_summary(r, archived=True)),
            (re.compile(r"^/v1/deals/(\d+)/participants$"), "/v1/deals/{id}/participants", self.participants),
            (re.compile(r"^/v1/leads$"), "/v1/leads", self.leads),
            (re.compile(r"^/v1/leads/archived$"), "/v1/leads/archived", lambda r: self.leads(r, "archived")),
            (re.compile(r"^/v1/notes$"), "/v1/notes", self.notes),
            (re.compile(r"^/v1/files$"), "/v1/files", self.files),
            (re.compile(r"^/v1/users$"), "/v1/users", lambda r: self.plain(self.data.users)),
            (re.compile(r"^/v1/activityTypes$"), "/v1/activityTypes", lambda r: self.plain(self.data.activity_types)),
            (re.compile(r"^/v1/currencies$"), "/v1/currencies", lambda r: self.plain(self.data.currencies)),
            (re.compile(r"^/v1/filters$"), "/v1/filters", self.filters),
        ] + [(re.compile(f"^{re.escape(p)}$"), p, self._fields_handler(e)) for p, e in FIELD_ROUTES.items()]

    # ------------------------------------------------------------------ dispatch
    def __call__(self, req: Request) -> Response:
        path = req.path.rstrip("/") or "/"
        if path.startswith("/api/v1/"):
            path = path[4:]
        token = req.headers.get("x-api-token") or req.arg("api_token")
        with self._lock:
            if token != self.token:
                return self._json(401, {"success": False, "error": "unauthorized access", "errorCode": 401,
                                        "error_info": "Please check the API token (x-api-token header or "
                                                      "api_token query parameter)."}, self.limiter.headers())
            verdict, headers = self.limiter.check()
        if verdict == "banned":
            return Response(403, CLOUDFLARE_HTML, headers)
        if verdict == "limited":
            return self._json(429, {"success": False, "error": "Request over limit", "errorCode": 429,
                                    "error_info": "Please slow down; see x-ratelimit-* headers."}, headers)
        if req.method != "GET":
            return self._json(405, {"success": False, "error": "Only GET is emulated", "errorCode": 405}, headers)
        for pattern, name, handler in self.routes:
            m = pattern.match(path)
            if m:
                break
        else:
            return self._json(404, {"success": False, "error": f"Unknown method {path}", "errorCode": 404,
                                    "error_info": "Please check developers.pipedrive.com"}, headers)
        cost = TOKEN_COST[name]
        with self.data.lock:
            self.data.purge()          # rows deleted 30+ days ago (logical clock) are gone for good
            try:
                body = handler(req, *m.groups())
            except ApiError as exc:
                return self._json(exc.status, exc.body(), headers)
            with self._lock:
                if not self.budget.allows(cost):
                    self.limiter.reject()
                    headers.update({"x-daily-requests-left": "0",
                                    "Retry-After": str(self.budget.seconds_to_midnight())})
                    return self._json(429, {"success": False, "error": "Daily rate limit exceeded", "errorCode": 429,
                                            "error_info": "daily token budget exhausted"}, headers)
                self.budget.charge(name, cost)
                left = self.budget.left()
            if left is not None:
                headers["x-daily-requests-left"] = str(left)
            payload = json_bytes(body)
        return Response(200, payload, headers)

    @staticmethod
    def _json(status: int, body: dict, headers: dict[str, str]) -> Response:
        return Response(status, body, dict(headers))

    def reset_limits(self) -> None:
        with self._lock:
            self.limiter.reset()

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _include_fields(req: Request, table: str | None) -> list[str]:
        """The ``include_fields`` asked for, checked against the operation's enum (openapi-v2.yaml)."""
        raw = req.arg("include_fields")
        allowed = INCLUDE_FIELDS.get(table or "")
        if not raw or allowed is None:     # operations without the parameter ignore it
            return []
        names = list(dict.fromkeys(x.strip() for x in raw.split(",") if x.strip()))
        bad = [n for n in names if n not in allowed]
        if bad:
            raise ApiError(400, "Parameter 'include_fields' must be a comma separated list of " + ", ".join(allowed),
                           f"got {bad}")
        return names

    def _v2(self, req: Request, rows: list[dict], sort_fields: tuple[str, ...], table: str | None = None) -> dict:
        include = self._include_fields(req, table)
        ids = ids_arg(req, "ids")
        if ids is not None:
            wanted = set(ids)
            rows = [r for r in rows if r["id"] in wanted]
        page, next_cursor = v2_page(req, rows, sort_fields, self.page_cap)
        if include:
            page = [{**r, **self.data.optional_fields(table, r, include)} for r in page]
        keys = req.arg("custom_fields")
        if keys:
            wanted_keys = keys.split(",")
            if len(wanted_keys) > 15:
                raise ApiError(400, "Parameter 'custom_fields' accepts at most 15 keys")
            page = [{**r, "custom_fields": {k: v for k, v in r["custom_fields"].items() if k in wanted_keys}}
                    for r in page]
        return {"success": True, "data": page, "additional_data": {"next_cursor": next_cursor}}

    @staticmethod
    def _filter_eq(req: Request, rows: list[dict], params: dict[str, str]) -> list[dict]:
        for param, column in params.items():
            value = int_arg(req, param)
            if value is not None:
                rows = [r for r in rows if r.get(column) == value]
        return rows

    @staticmethod
    def _filter_time(req: Request, rows: list[dict]) -> list[dict]:
        since, until = time_arg(req, "updated_since"), time_arg(req, "updated_until")
        if since:
            rows = [r for r in rows if r["update_time"] >= since]
        if until:
            rows = [r for r in rows if r["update_time"] < until]
        return rows

    def _v1(self, data: list, additional: dict | None = None, **extra: Any) -> dict:
        body: dict[str, Any] = {"success": True, "data": data if data or not self.v1_empty_null else None}
        if additional is not None:
            body["additional_data"] = additional
        body.update(extra)
        return body

    def plain(self, rows: list[dict]) -> dict:
        return {"success": True, "data": rows}

    # ------------------------------------------------------------------ v2 endpoints
    def deals(self, req: Request, archived: bool) -> dict:
        raw = req.arg("status")
        if raw:
            statuses = {s.strip() for s in raw.split(",") if s.strip()}
            bad = statuses - {"open", "won", "lost", "deleted"}
            if bad:
                raise ApiError(400, "Parameter 'status' must be open, won, lost or deleted", f"got {sorted(bad)}")
        else:
            statuses = {"open", "won", "lost"}
        rows = [d for d in self.data.deals.values() if d["is_archived"] == archived and d["status"] in statuses]
        rows = self._filter_eq(req, rows, {"owner_id": "owner_id", "person_id": "person_id", "org_id": "org_id",
                                           "pipeline_id": "pipeline_id", "stage_id": "stage_id"})
        return self._v2(req, self._filter_time(req, rows), ("id", "update_time", "add_time"), "deals")

    def deals_summary(self, req: Request, archived: bool) -> dict:
        """``/v1/deals/summary`` (and ``/archived``): counts and values of the deals that are not deleted."""
        statuses = {req.arg("status")} if req.arg("status") else {"open", "won", "lost"}
        rows = [d for d in self.data.deals.values() if d["is_archived"] == archived and d["status"] in statuses]
        value = sum(float(d.get("value") or 0) for d in rows)
        return {"success": True, "data": {"total_count": len(rows), "values_total": {},
                                          "weighted_values_total": {}, "total_currency_converted_value": value,
                                          "total_weighted_currency_converted_value": value}}

    def _listed(self, table: str) -> list[dict]:
        """Stored rows a list endpoint serves (soft-deleted ones only with ``list_deleted``)."""
        return [r for r in self.data.table(table).values() if self.data.visible(table, r)]

    def persons(self, req: Request) -> dict:
        rows = self._filter_eq(req, self._listed("persons"), {"owner_id": "owner_id", "org_id": "org_id"})
        return self._v2(req, self._filter_time(req, rows), ("id", "update_time", "add_time"), "persons")

    def organizations(self, req: Request) -> dict:
        rows = self._filter_eq(req, self._listed("organizations"), {"owner_id": "owner_id"})
        return self._v2(req, self._filter_time(req, rows), ("id", "update_time", "add_time"), "organizations")

    def activities(self, req: Request) -> dict:
        rows = self._filter_eq(req, self._listed("activities"),
                               {"owner_id": "owner_id", "deal_id": "deal_id", "person_id": "person_id",
                                "org_id": "org_id"})
        lead_id = req.arg("lead_id")
        if lead_id:
            rows = [r for r in rows if r["lead_id"] == lead_id]
        done = bool_arg(req, "done")
        if done is not None:
            rows = [r for r in rows if r["done"] == done]
        return self._v2(req, self._filter_time(req, rows), ("id", "update_time", "add_time", "due_date"), "activities")

    def products(self, req: Request) -> dict:
        rows = self._filter_eq(req, self._listed("products"), {"owner_id": "owner_id"})
        return self._v2(req, rows, ("id", "name", "add_time", "update_time"))

    def pipelines(self, req: Request) -> dict:
        return self._v2(req, list(self.data.pipelines.values()), ("id", "update_time", "add_time"))

    def stages(self, req: Request) -> dict:
        rows = self._filter_eq(req, list(self.data.stages.values()), {"pipeline_id": "pipeline_id"})
        return self._v2(req, rows, ("id", "update_time", "add_time", "order_nr"))

    def deal_products(self, req: Request) -> dict:
        deal_ids = ids_arg(req, "deal_ids", maximum=100)
        if not deal_ids:
            raise ApiError(400, "Parameter 'deal_ids' is required", "pass up to 100 comma separated deal ids")
        wanted = set(deal_ids)
        rows = [r for r in self.data.deal_products.values() if r["deal_id"] in wanted]
        page, next_cursor = v2_page(req, rows, ("id", "deal_id", "add_time", "update_time", "order_nr"),
                                     self.page_cap)
        return {"success": True, "data": page, "additional_data": {"next_cursor": next_cursor}}

    # ------------------------------------------------------------------ v1 endpoints
    def _deal_or_404(self, deal_id: str) -> dict:
        deal = self.data.deals.get(int(deal_id))
        if deal is None:
            raise ApiError(404, "Deal not found", f"no deal with id {deal_id}")
        return deal

    def flow(self, req: Request, deal_id: str) -> dict:
        deal = self._deal_or_404(deal_id)
        items_raw = req.arg("items")
        items = {x.strip() for x in items_raw.split(",")} if items_raw else None
        rows = self.data.flow_items(deal["id"], all_changes=req.arg("all_changes") == "1", items=items)
        start, limit = int_arg(req, "start", 0), min(int_arg(req, "limit", 100), 500)
        if start < 0 or limit < 1:
            raise ApiError(400, "Parameters 'start' and 'limit' must be positive")
        page = rows[start:start + limit]
        more = start + limit < len(rows)
        additional = {"pagination": {"start": start, "limit": limit, "more_items_in_collection": more,
                                     **({"next_start": start + limit} if more else {})}}
        related = {"deal": {str(deal["id"]): {"id": deal["id"], "title": deal["title"], "status": deal["status"],
                                              "value": deal["value"], "currency": deal["currency"],
                                              "stage_id": deal["stage_id"], "pipeline_id": deal["pipeline_id"]}}}
        return self._v1(page, additional, related_objects=related)

    def participants(self, req: Request, deal_id: str) -> dict:
        deal = self._deal_or_404(deal_id)
        rows = [r for r in self.data.participants.values() if r["deal_id"] == deal["id"]]
        page, additional = v1_page(req, rows, [], render=lambda r: self.data.render("participants", r),
                                   max_limit=self.page_cap)
        users = {str(p["added_by_user_id"]["id"]): {k: v for k, v in p["added_by_user_id"].items() if k != "value"}
                 for p in page}
        return self._v1(page, additional, related_objects={"user": users})

    def leads(self, req: Request, archived: str | None = None) -> dict:
        # The spec serves archived leads on /v1/leads/archived; older clients send archived_status.
        archived = archived or req.arg("archived_status") or "not_archived"
        if archived not in ("all", "archived", "not_archived"):
            raise ApiError(400, "Parameter 'archived_status' must be all, archived or not_archived")
        rows = list(self.data.leads.values())
        if archived != "all":
            rows = [r for r in rows if r["is_archived"] == (archived == "archived")]
        rows = self._filter_eq(req, rows, {"owner_id": "owner_id", "person_id": "person_id",
                                           "organization_id": "organization_id"})
        sort = parse_v1_sort(req.arg("sort"), ("id", "title", "owner_id", "creator_id", "was_seen",
                                               "expected_close_date", "next_activity_id", "add_time", "update_time"))
        page, additional = v1_page(req, rows, sort or [("add_time", False)], max_limit=self.page_cap,
                                   render=lambda r: self.data.render("leads", r))
        return self._v1(page, additional)

    def notes(self, req: Request) -> dict:
        rows = self._filter_eq(req, list(self.data.notes.values()),
                               {"user_id": "user_id", "deal_id": "deal_id", "person_id": "person_id",
                                "org_id": "org_id", "project_id": "project_id"})
        if req.arg("lead_id"):
            rows = [r for r in rows if r["lead_id"] == req.arg("lead_id")]
        if req.arg("start_date"):
            rows = [r for r in rows if r["add_time"][:10] >= req.arg("start_date")]
        if req.arg("end_date"):
            rows = [r for r in rows if r["add_time"][:10] <= req.arg("end_date")]
        for flag in ("pinned_to_lead_flag", "pinned_to_deal_flag", "pinned_to_organization_flag",
                     "pinned_to_person_flag"):
            value = bool_arg(req, flag)
            if value is not None:
                rows = [r for r in rows if r[flag] == value]
        sort = parse_v1_sort(req.arg("sort"), ("id", "user_id", "deal_id", "person_id", "org_id", "content",
                                               "add_time", "update_time"))
        page, additional = v1_page(req, rows, sort, max_limit=self.page_cap)
        return self._v1(page, additional)

    def files(self, req: Request) -> dict:
        sort = parse_v1_sort(req.arg("sort"), ("id", "update_time"))
        page, additional = v1_page(req, self._listed("files"), sort, max_limit=min(100, self.page_cap))
        return self._v1(page, additional)

    def filters(self, req: Request) -> dict:
        rows = self.data.filters
        if req.arg("type"):
            rows = [r for r in rows if r["type"] == req.arg("type")]
        return self.plain(rows)

    def _fields_handler(self, entity: str) -> Callable[[Request], dict]:
        def handler(req: Request) -> dict:
            page, additional = v1_page(req, self.data.fields[entity], [], max_limit=self.page_cap)
            return self._v1(page, additional)
        return handler
