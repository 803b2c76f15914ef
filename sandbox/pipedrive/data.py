"""Seeded, deterministic Pipedrive-like data set and its mutation.

Rows are kept in API shape (v2 shape for deals/persons/organizations/activities/products/pipelines/
stages/deal products; v1 shape for notes/files/fields/users/...). Leads and participants are stored
compactly and rendered by ``render``.

Deletes follow the API: deals get status ``deleted``; persons, organizations, activities and products
get ``is_deleted: true``; files get ``active_flag: false``; notes, leads, deal products and participants
vanish. Soft-deleted rows are purged (with a deal's products, participants and flow) once they have been
deleted for ``PURGE_AFTER`` seconds of the logical clock. The deletion moment lives in ``_deleted_at``,
never in a row, so it cannot leak into a response.
"""
from __future__ import annotations

import calendar
import gc
import threading
import time
import uuid
from datetime import datetime, timezone
from random import Random
from typing import Any

from . import fields as F
from .fields import amount, fmt_date, fmt_lead, fmt_v1, fmt_v2, money, pick, ri, rr
from .mutate import MutationsMixin
from .optional import OptionalFieldsMixin
from .render import RenderMixin

# canonical table names and accepted aliases
TABLES = ("deals", "persons", "organizations", "activities", "products", "pipelines", "stages", "users",
          "notes", "files", "leads", "deal_products", "participants", "flow", "activity_types", "currencies",
          "filters", "deal_fields", "person_fields", "organization_fields", "product_fields", "activity_fields")
ALIASES = {"deal": "deals", "person": "persons", "organization": "organizations", "org": "organizations",
           "activity": "activities", "product": "products", "pipeline": "pipelines", "stage": "stages",
           "user": "users", "note": "notes", "file": "files", "lead": "leads", "deal_product": "deal_products",
           "participant": "participants", "deals_products": "deal_products", "activityTypes": "activity_types",
           "dealFields": "deal_fields", "personFields": "person_fields", "organizationFields": "organization_fields",
           "productFields": "product_fields", "activityFields": "activity_fields"}
ENTITY_OF = {"deals": "deal", "persons": "person", "organizations": "organization", "products": "product",
             "activities": "activity", "leads": "deal"}
V2_TABLES = {"deals", "persons", "organizations", "activities", "products", "pipelines", "stages", "deal_products"}
# soft-deleted rows stay stored (and, with list_deleted, listed) until purged; the rest are deleted for good
SOFT_DELETE = ("deals", "persons", "organizations", "activities", "products", "files")
HARD_DELETE = ("notes", "leads", "deal_products", "participants")
PURGE_AFTER = 30 * 86400
DEAL_FLOW_KEYS = ("title", "value", "currency", "stage_id", "pipeline_id", "status", "owner_id", "person_id",
                  "org_id", "probability", "expected_close_date", "lost_reason", "visible_to", "label_ids",
                  "is_archived", "is_deleted")


def canonical(table: str) -> str:
    table = ALIASES.get(table, table)
    if table not in TABLES:
        raise KeyError(f"unknown table {table!r}; use one of {TABLES}")
    return table


def _entity(name: str) -> str:
    e = ALIASES.get(name, name)
    e = ENTITY_OF.get(e, e)
    if e not in F.ENTITIES:
        raise KeyError(f"unknown entity {name!r}; use one of {F.ENTITIES}")
    return e


def is_deleted(table: str, row: dict) -> bool:
    """Whether a stored row of a soft-delete table is deleted (files: ``active_flag`` false)."""
    if table == "files":
        return not row["active_flag"]
    return bool(row.get("is_deleted"))


class Dataset(MutationsMixin, RenderMixin, OptionalFieldsMixin):
    def __init__(self, seed: int = 1, deals: int = 200, start: datetime | None = None, history_days: int = 365,
                 list_deleted: bool = False):
        start = start or datetime(2024, 1, 1, tzinfo=timezone.utc)
        if start.tzinfo is None:
            start = start.replace(tzinfo=timezone.utc)
        self.lock = threading.RLock()
        self.seed = seed
        self.start_ts = int(start.timestamp())
        self.clock_ts = self.start_ts + history_days * 86400
        self.version = 0
        self._rng = Random(f"{seed}:ops")
        self._index_version = -1
        self._acts_by_deal: dict[int, list[int]] = {}
        self._notes_by_deal: dict[int, list[int]] = {}
        self._rel_version = -1
        self._rel: dict[str, Any] = {}
        self.list_deleted = list_deleted
        # deletion moment (logical clock) of each soft-deleted row still stored, per table: purge schedule
        self._deleted_at: dict[str, dict[Any, int]] = {t: {} for t in SOFT_DELETE}
        # ids deleted (soft, hard or purged) since the data set was created, per table
        self._deleted_ids: dict[str, set] = {t: set() for t in (*SOFT_DELETE, *HARD_DELETE, "flow")}
        was_enabled = gc.isenabled()
        gc.disable()   # millions of small objects: cyclic GC passes would dominate generation time
        try:
            self._generate(seed, deals)
        finally:
            if was_enabled:
                gc.enable()
        gc.freeze()    # keep later GC passes (per request) from traversing the whole data set

    # ------------------------------------------------------------------ generation
    def _generate(self, seed: int, n: int) -> None:
        rng = Random(seed)
        self.n_users = 10
        n_persons, n_orgs = max(1, n // 2), max(1, n // 5)
        self.fields, self.next_option_id = F.build_fields(self.start_ts)
        self.users = F.static_users(self.n_users, self.start_ts)
        self.activity_types = F.static_activity_types(self.start_ts)
        self.currencies = [dict(c) for c in F.CURRENCIES]
        self.filters = F.static_filters(self.start_ts)
        self.ctx = F.ValueContext(self.start_ts, self.clock_ts - self.start_ts, self.n_users, n_orgs, n_persons)
        s2 = fmt_v2(self.start_ts)
        self.pipelines: dict[int, dict] = {}
        self.stages: dict[int, dict] = {}
        for p in range(1, 4):
            self.pipelines[p] = {"id": p, "name": ["Sales", "Partners", "Renewals"][p - 1], "order_nr": p,
                                 "is_deleted": False, "is_deal_probability_enabled": p != 2, "add_time": s2,
                                 "update_time": s2, "is_selected": p == 1}
            for o in range(1, 6):
                sid = (p - 1) * 5 + o
                self.stages[sid] = {"id": sid, "order_nr": o, "name": ["Lead In", "Qualified", "Proposal",
                                    "Negotiation", "Closing"][o - 1], "is_deleted": False, "deal_probability": o * 20,
                                    "pipeline_id": p, "is_deal_rot_enabled": o < 3, "days_to_rotten": 30 if o < 3 else None,
                                    "add_time": s2, "update_time": s2}
        self.next_id: dict[str, int] = {}
        self.products: dict[int, dict] = {}
        for i in range(1, 51):
            self.products[i] = self._make_product(rng, i, *self._times(rng))
        self.organizations = {i: self._make_org(rng, i, *self._times(rng)) for i in range(1, n_orgs + 1)}
        self.persons = {i: self._make_person(rng, i, *self._times(rng)) for i in range(1, n_persons + 1)}
        self.deals: dict[int, dict] = {}
        self.deal_products: dict[int, dict] = {}
        self.participants: dict[int, dict] = {}
        self.flow: dict[int, list[dict]] = {}
        self.next_id.update(deal_products=1, participants=1, flow=1)
        for i in range(1, n + 1):
            add_ts, upd_ts = self._times(rng)
            deal = self._make_deal(rng, i, add_ts, upd_ts)
            deleted_ts = None
            if rng.random() < 0.03:
                # deleted within the last PURGE_AFTER (older deletions would already be purged)
                deleted_ts = max(upd_ts, self.clock_ts - 1 - rr(rng, PURGE_AFTER - 86400))
                deal.update(status="deleted", is_deleted=True, update_time=fmt_v2(deleted_ts))
                self._deleted_at["deals"][i] = deleted_ts
            elif rng.random() < 0.05:
                deal.update(is_archived=True, archive_time=deal["update_time"])
            self.deals[i] = deal
            for _ in range(ri(rng, 0, 3)):
                self._add_deal_product(rng, deal, ri(rng, add_ts, upd_ts))
            self._add_participants(rng, deal, add_ts)
            self._make_flow(rng, deal, add_ts, upd_ts)
            if deleted_ts is not None:
                before = next((e["new_value"] for e in reversed(self.flow.get(i, [])) if e["field_key"] == "status"),
                              "open")
                self._flow_event(i, deal["owner_id"], "status", before, "deleted", deleted_ts)
        self._whole_values_first()
        self.activities = {i: self._make_activity(rng, i, *self._times(rng)) for i in range(1, 2 * n + 1)}
        self.leads: dict[str, dict] = {}
        for _ in range(max(1, n // 4)):
            lead = self._make_lead(rng, *self._times(rng))
            self.leads[lead["id"]] = lead
        self.notes = {i: self._make_note(rng, i, *self._times(rng)) for i in range(1, n + 1)}
        self.files = {i: self._make_file(rng, i, *self._times(rng)) for i in range(1, max(1, n // 5) + 1)}
        self.next_id.update(deals=n + 1, persons=n_persons + 1, organizations=n_orgs + 1, products=51,
                            activities=2 * n + 1, notes=n + 1, files=max(1, n // 5) + 1)

    def _whole_values_first(self) -> None:
        """The oldest-updated deals (first page of an ``update_time`` scan) carry whole values too, like deal 1."""
        for deal in sorted(self.deals.values(), key=lambda d: (d["update_time"], d["id"]))[:5]:
            if isinstance(deal["value"], float):
                old, deal["value"] = deal["value"], int(deal["value"])
                for ev in self.flow.get(deal["id"], []):
                    if ev["field_key"] == "value" and ev["new_value"] == old:
                        ev["new_value"] = deal["value"]

    def _times(self, rng: Random) -> tuple[int, int]:
        span = self.clock_ts - self.start_ts
        add_ts = self.start_ts + int(rng.random() * span)
        upd_ts = add_ts + int(rng.random() * (self.clock_ts - add_ts))
        return add_ts, upd_ts

    def _custom(self, rng: Random, entity: str) -> dict:
        return {f["key"]: F.custom_value(rng, f, self.ctx) for f in self.fields[entity] if f["edit_flag"]}

    def _make_deal(self, rng: Random, i: int, add_ts: int, upd_ts: int) -> dict:
        pipeline_id = ri(rng, 1, 3)
        stage_id = (pipeline_id - 1) * 5 + ri(rng, 1, 5)
        r = rng.random()
        status = "open" if r < 0.6 else "won" if r < 0.85 else "lost"
        close_ts = ri(rng, add_ts, upd_ts) if status != "open" else None
        upd = fmt_v2(upd_ts)
        persons, orgs = self.ctx.persons, self.ctx.orgs
        return {
            "id": i, "title": f"{pick(rng, F.WORDS).title()} deal {i}", "creator_user_id": ri(rng, 1, self.n_users),
            "owner_id": ri(rng, 1, self.n_users), "value": amount(rng, 100, 100000, True if i <= 3 else None),
            "currency": pick(rng, F.CURRENCY_CODES), "add_time": fmt_v2(add_ts), "update_time": upd,
            "stage_change_time": fmt_v2(ri(rng, add_ts, upd_ts)), "status": status, "is_deleted": False,
            "is_archived": False, "archive_time": None,
            "probability": pick(rng, [None, 10, 25, 50, 75, 90]),
            "lost_reason": pick(rng, ["Too expensive", "Went silent", "Competitor"]) if status == "lost" else None,
            "visible_to": pick(rng, [3, 7]), "close_time": fmt_v2(close_ts) if close_ts else None,
            "pipeline_id": pipeline_id, "won_time": fmt_v2(close_ts) if status == "won" else None,
            "lost_time": fmt_v2(close_ts) if status == "lost" else None,
            "expected_close_date": fmt_date(add_ts + rr(rng, 180 * 86400)) if rng.random() < 0.7 else None,
            "stage_id": stage_id, "person_id": ri(rng, 1, persons) if rng.random() < 0.9 else None,
            "org_id": ri(rng, 1, orgs) if rng.random() < 0.8 else None,
            "label_ids": sorted(rng.sample([1, 2, 3, 4], ri(rng, 0, 2))),
            "origin": "ManuallyCreated", "origin_id": None, "channel": None, "channel_id": None,
            "arr": None, "mrr": None, "acv": None, "custom_fields": self._custom(rng, "deal"),
        }

    def _make_person(self, rng: Random, i: int, add_ts: int, upd_ts: int) -> dict:
        first, last = pick(rng, F.FIRST), pick(rng, F.LAST)
        return {
            "id": i, "name": f"{first} {last}", "first_name": first, "last_name": last,
            "owner_id": ri(rng, 1, self.n_users),
            "org_id": ri(rng, 1, self.ctx.orgs) if rng.random() < 0.8 else None,
            "add_time": fmt_v2(add_ts), "update_time": fmt_v2(upd_ts),
            "emails": [{"value": f"{first.lower()}.{last.lower()}{i}@example.com", "primary": True, "label": "work"}],
            "phones": ([{"value": f"+372 5{ri(rng, 100000, 9999999)}", "primary": True, "label": "mobile"}]
                       if rng.random() < 0.7 else []),
            "is_deleted": False, "visible_to": pick(rng, [3, 7]),
            "label_ids": sorted(rng.sample([5, 6, 7], ri(rng, 0, 2))), "picture_id": None,
            "custom_fields": self._custom(rng, "person"),
        }

    def _make_org(self, rng: Random, i: int, add_ts: int, upd_ts: int) -> dict:
        return {
            "id": i, "name": f"{pick(rng, F.WORDS).title()} {pick(rng, ['Ltd', 'GmbH', 'OÜ', 'Inc', 'SA'])} {i}",
            "owner_id": ri(rng, 1, self.n_users), "add_time": fmt_v2(add_ts), "update_time": fmt_v2(upd_ts),
            "address": F.address(rng) if rng.random() < 0.8 else None, "is_deleted": False,
            "visible_to": pick(rng, [3, 7]), "label_ids": sorted(rng.sample([8, 9], ri(rng, 0, 1))),
            "custom_fields": self._custom(rng, "organization"),
        }

    def _make_product(self, rng: Random, i: int, add_ts: int, upd_ts: int) -> dict:
        first = i <= 3                  # the first products by id have whole prices, costs and tax
        price = amount(rng, 5, 2000, True if first else None)
        recurring = rng.random() < 0.3
        return {
            "id": i, "name": f"{pick(rng, F.WORDS).title()} {pick(rng, ['Pro', 'Lite', 'Max', 'Kit'])} {i}",
            "code": f"P{i:04d}", "description": " ".join(pick(rng, F.WORDS) for _ in range(5)), "unit": "pcs",
            "tax": pick(rng, [0, 9, 20, 22] if first else [0, 9, 20, 22, 5.5]), "category": pick(rng, ["Retail", "Services", None]),
            "is_linkable": True, "is_deleted": False, "visible_to": 3, "owner_id": ri(rng, 1, self.n_users),
            "add_time": fmt_v2(add_ts), "update_time": fmt_v2(upd_ts),
            "billing_frequency": "monthly" if recurring else "one-time",
            "billing_frequency_cycles": ri(rng, 2, 12) if recurring else None,
            "prices": [{"product_id": i, "price": price, "currency": "EUR", "cost": money(price * 0.6),
                        "direct_cost": money(price * 0.2), "notes": ""}],
            "custom_fields": self._custom(rng, "product"),
        }

    def _make_activity(self, rng: Random, i: int, add_ts: int, upd_ts: int) -> dict:
        done = rng.random() < 0.5
        deal_id = self._some_deal_id(rng) if self.deals and rng.random() < 0.7 else None
        person_id = ri(rng, 1, self.ctx.persons) if rng.random() < 0.6 else None
        return {
            "id": i, "subject": f"{pick(rng, F.ACTIVITY_TYPES)[0]} about {pick(rng, F.WORDS)}",
            "type": pick(rng, F.ACTIVITY_TYPES)[1], "owner_id": ri(rng, 1, self.n_users),
            "creator_user_id": ri(rng, 1, self.n_users), "is_deleted": False,
            "add_time": fmt_v2(add_ts), "update_time": fmt_v2(upd_ts), "deal_id": deal_id, "lead_id": None,
            "person_id": person_id, "org_id": ri(rng, 1, self.ctx.orgs) if rng.random() < 0.5 else None,
            "project_id": None, "due_date": fmt_date(add_ts + rr(rng, 60 * 86400)),
            "due_time": f"{ri(rng, 8, 17):02d}:{pick(rng, [0, 30]):02d}:00" if rng.random() < 0.6 else None,
            "duration": pick(rng, [None, "00:30:00", "01:00:00"]), "busy": rng.random() < 0.5, "done": done,
            "marked_as_done_time": fmt_v2(upd_ts) if done else None,
            "location": F.address(rng) if rng.random() < 0.2 else None,
            "participants": [{"person_id": person_id, "primary": True}] if person_id else [],
            "conference_meeting_client": None, "conference_meeting_url": None,
            "conference_meeting_id": None, "public_description": None, "priority": None,
            "note": " ".join(pick(rng, F.WORDS) for _ in range(4)) if rng.random() < 0.4 else None,
            "custom_fields": self._custom(rng, "activity"),
        }

    def _make_lead(self, rng: Random, add_ts: int, upd_ts: int) -> dict:
        person_id = ri(rng, 1, self.ctx.persons) if rng.random() < 0.8 else None
        org_id = ri(rng, 1, self.ctx.orgs) if person_id is None or rng.random() < 0.4 else None
        lid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        custom = {k: v for k, v in self._custom(rng, "deal").items() if v is not None and rng.random() < 0.5}
        return {
            "id": lid, "title": f"{pick(rng, F.WORDS).title()} lead", "owner_id": ri(rng, 1, self.n_users),
            "creator_id": ri(rng, 1, self.n_users),
            "label_ids": [str(uuid.UUID(int=rng.getrandbits(128), version=4))] if rng.random() < 0.3 else [],
            "person_id": person_id, "organization_id": org_id, "source_name": "Manually created",
            "origin": "ManuallyCreated", "origin_id": None, "channel": None, "channel_id": None,
            "is_archived": rng.random() < 0.1, "was_seen": rng.random() < 0.5,
            "value": ({"amount": ri(rng, 100, 20000), "currency": pick(rng, F.CURRENCY_CODES)}
                      if rng.random() < 0.6 else None),
            "expected_close_date": fmt_date(add_ts + rr(rng, 90 * 86400)) if rng.random() < 0.3 else None,
            "next_activity_id": None, "add_time": fmt_lead(add_ts), "update_time": fmt_lead(upd_ts),
            "visible_to": "3", "cc_email": f"sandbox+lead{lid[:8]}@pipedrivemail.com", "_custom": custom,
        }

    def _make_note(self, rng: Random, i: int, add_ts: int, upd_ts: int) -> dict:
        deal = self.deals.get(self._some_deal_id(rng)) if self.deals and rng.random() < 0.7 else None
        person_id = deal["person_id"] if deal else (ri(rng, 1, self.ctx.persons) if rng.random() < 0.5 else None)
        org_id = deal["org_id"] if deal else None
        person = self.persons.get(person_id) if person_id else None
        org = self.organizations.get(org_id) if org_id else None
        lead_id = pick(rng, list(self.leads)) if not deal and self.leads and rng.random() < 0.2 else None
        user_id = ri(rng, 1, self.n_users)
        return {
            "id": i, "active_flag": True, "add_time": fmt_v1(add_ts),
            "content": "<p>" + " ".join(pick(rng, F.WORDS) for _ in range(ri(rng, 3, 15))) + "</p>",
            "deal": {"title": deal["title"]} if deal else None, "lead_id": lead_id,
            "deal_id": deal["id"] if deal else None, "last_update_user_id": user_id, "org_id": org_id,
            "organization": {"name": org["name"]} if org else None,
            "person": {"name": person["name"]} if person else None, "person_id": person_id,
            "project_id": None, "project": None, "pinned_to_lead_flag": False,
            "pinned_to_deal_flag": bool(deal) and rng.random() < 0.1, "pinned_to_organization_flag": False,
            "pinned_to_person_flag": False, "pinned_to_project_flag": False, "update_time": fmt_v1(upd_ts),
            "user": {"email": f"user{user_id}@sandbox.example", "icon_url": None, "is_you": user_id == 1,
                     "name": self.users[user_id - 1]["name"]},
            "user_id": user_id,
        }

    def _make_file(self, rng: Random, i: int, add_ts: int, upd_ts: int) -> dict:
        deal_id = self._some_deal_id(rng) if self.deals and rng.random() < 0.7 else None
        kind = pick(rng, [("pdf", "pdf"), ("png", "img"), ("docx", "doc")])
        name = f"{pick(rng, F.WORDS)}_{i}.{kind[0]}"
        return {
            "id": i, "user_id": ri(rng, 1, self.n_users), "deal_id": deal_id, "person_id": None, "org_id": None,
            "product_id": None, "activity_id": None, "lead_id": None, "log_id": None,
            "add_time": fmt_v1(add_ts), "update_time": fmt_v1(upd_ts), "file_name": name, "file_type": kind[1],
            "file_size": ri(rng, 1000, 5_000_000), "active_flag": True, "inline_flag": False,
            "remote_location": "s3", "remote_id": None, "cid": "", "s3_bucket": "", "mail_message_id": "",
            "mail_template_id": "", "deal_name": self.deals[deal_id]["title"] if deal_id else "", "person_name": "",
            "lead_name": "", "org_name": "", "product_name": "",
            "url": f"https://sandbox.pipedrive.com/v1/files/{i}/download", "name": name, "description": "",
        }

    def _some_deal_id(self, rng: Random) -> int | None:
        """A random existing deal id (None when the drawn deal was purged)."""
        deal_id = ri(rng, 1, self.next_id.get("deals", len(self.deals) + 1) - 1)
        return deal_id if deal_id in self.deals else None

    def _add_deal_product(self, rng: Random, deal: dict, ts: int) -> dict:
        pid = self.next_id["deal_products"]
        self.next_id["deal_products"] += 1
        product = self.products.get(ri(rng, 1, self.next_id.get("products", len(self.products) + 1) - 1))
        if product is None or product["is_deleted"]:
            product = next((p for p in self.products.values() if not p["is_deleted"]), None) or product \
                or next(iter(self.products.values()))
        price = product["prices"][0]["price"]
        if pid <= 3:                    # the first deal products by id: whole quantity, price, sum
            qty, discount, price = ri(rng, 1, 10), 0, int(price)
        else:
            qty = pick(rng, (0.5, 1.5, 2.5, 0.25)) if rng.random() < 0.2 else ri(rng, 1, 10)
            discount = pick(rng, [0, 0, 5, 10, 2.5])
        row = {"id": pid, "sum": money(qty * price * (1 - discount / 100)), "tax": product["tax"],
               "deal_id": deal["id"], "name": product["name"], "product_id": product["id"],
               "product_variation_id": None, "order_nr": pid, "add_time": fmt_v2(ts), "update_time": fmt_v2(ts),
               "comments": "", "currency": deal["currency"], "discount": discount, "quantity": qty,
               "item_price": price, "tax_method": "inclusive", "discount_type": "percentage", "is_enabled": True,
               "billing_frequency": "one-time", "billing_frequency_cycles": None, "billing_start_date": None}
        self.deal_products[pid] = row
        return row

    def _add_participant(self, rng: Random, deal_id: int, person_id: int, ts: int) -> dict:
        pid = self.next_id["participants"]
        self.next_id["participants"] += 1
        row = {"id": pid, "deal_id": deal_id, "person_id": person_id, "add_time": fmt_v1(ts),
               "added_by_user_id": ri(rng, 1, self.n_users), "active_flag": True}
        self.participants[pid] = row
        return row

    def _add_participants(self, rng: Random, deal: dict, ts: int) -> None:
        people = [deal["person_id"]] if deal["person_id"] else []
        for _ in range(ri(rng, 1, 3) - len(people)):
            people.append(ri(rng, 1, self.ctx.persons))
        for person_id in dict.fromkeys(people):
            self._add_participant(rng, deal["id"], person_id, ts)

    def _flow_event(self, deal_id: int, user_id: int, key: str, old: Any, new: Any, ts: int) -> dict:
        eid = self.next_id["flow"]
        self.next_id["flow"] += 1
        stamp = fmt_v1(ts)
        ev = {"id": eid, "item_id": deal_id, "user_id": user_id, "field_key": key, "old_value": old,
              "new_value": new, "is_bulk_update_flag": None, "log_time": stamp, "change_source": "app",
              "change_source_user_agent": None, "additional_data": {}}
        self.flow.setdefault(deal_id, []).append(ev)
        return ev

    def _make_flow(self, rng: Random, deal: dict, add_ts: int, upd_ts: int) -> None:
        k = ri(rng, 3, 10)
        times = sorted(ri(rng, add_ts, upd_ts) for _ in range(k))
        custom_keys = list(deal["custom_fields"])
        for n, ts in enumerate(times):
            user = ri(rng, 1, self.n_users)
            if n == k - 1 and deal["status"] in ("won", "lost"):
                self._flow_event(deal["id"], user, "status", "open", deal["status"], ts)
                continue
            key = pick(rng, ("stage_id", "value", "title", "owner_id", "probability", "custom"))
            if key == "stage_id":
                old, new = None, None                   # a path of stages: ``_stage_path`` below
            elif key == "value":
                old, new = round(rng.uniform(100, 100000), 2), deal["value"]
            elif key == "title":
                old, new = f"Draft {deal['id']}", deal["title"]
            elif key == "owner_id":
                old, new = ri(rng, 1, self.n_users), deal["owner_id"]
            elif key == "probability":
                old, new = pick(rng, [10, 50]), deal["probability"]
            else:
                key = pick(rng, custom_keys)
                old, new = None, _flow_value(deal["custom_fields"][key])
            self._flow_event(deal["id"], user, key, old, new, ts)
        self._stage_path(deal, add_ts)

    def _stage_path(self, deal: dict, add_ts: int) -> None:
        """The deal's stage changes form one path that ends in its current stage: mostly forward, sometimes
        back (a re-entry), now and then from another pipeline (a pipeline move logs ``pipeline_id`` too).
        Most deals open with the creation event (``stage_id`` from none); some, like deals imported before
        their history was kept, begin with a change from their first stage. Own generator: the rest of
        the data set does not depend on it."""
        rng = Random(deal["id"])
        changes = [ev for ev in self.flow.get(deal["id"], []) if ev["field_key"] == "stage_id"]
        stage = self.stages[deal["stage_id"]]
        for n, ev in enumerate(reversed(changes)):
            order, pipeline = stage["order_nr"], stage["pipeline_id"]
            if n == len(changes) - 1 and len(changes) > 1 and rng.random() < 0.15:
                pipeline = pipeline % len(self.pipelines) + 1
                self._flow_event(deal["id"], ev["user_id"], "pipeline_id", pipeline, stage["pipeline_id"],
                                 _v1_ts(ev["log_time"]))
            elif order == 1 or (order < 5 and rng.random() < 0.2):
                order += 1                               # it came back from a later stage
            else:
                order -= 1
            previous = self.stages[(pipeline - 1) * 5 + order]
            ev["old_value"], ev["new_value"] = previous["id"], stage["id"]
            stage = previous
        if rng.random() < 0.8:
            self._flow_event(deal["id"], deal["creator_user_id"], "stage_id", None, stage["id"], add_ts)
        self.flow.setdefault(deal["id"], []).sort(key=lambda ev: ev["log_time"])
        deal["stage_change_time"] = fmt_v2(_v1_ts(changes[-1]["log_time"])) if changes else deal["add_time"]

    # ------------------------------------------------------------------ clock
    @property
    def clock(self) -> datetime:
        return datetime.fromtimestamp(self.clock_ts, timezone.utc)

    def tick(self, seconds: float = 1) -> datetime:
        with self.lock:
            self.clock_ts += int(seconds)
            self.purge()
            return self.clock

    # ------------------------------------------------------------------ deletes
    def purge(self) -> list[tuple[str, Any]]:
        """Remove the rows soft-deleted ``PURGE_AFTER`` or more seconds ago (a deal with its deal products,
        participants and flow); returns the removed (table, id)s. Runs on ``tick`` and before each request."""
        with self.lock:
            limit = self.clock_ts - PURGE_AFTER
            gone: list[tuple[str, Any]] = []
            for table, pending in self._deleted_at.items():
                due = sorted(rid for rid, ts in pending.items() if ts <= limit)
                rows = self.table(table)
                for rid in due:
                    del pending[rid]
                    if rows.pop(rid, None) is not None:
                        gone.append((table, rid))
            deals = {rid for table, rid in gone if table == "deals"}
            if deals:
                for child in ("deal_products", "participants"):
                    store = getattr(self, child)
                    for cid in [c for c, r in store.items() if r["deal_id"] in deals]:
                        del store[cid]
                        gone.append((child, cid))
                for rid in sorted(deals):
                    gone.extend(("flow", ev["id"]) for ev in self.flow.pop(rid, []))
            for table, rid in gone:
                self._deleted_ids[table].add(rid)
            if gone:
                self.version += 1
            return gone

    def _sync_deleted(self, table: str, row: dict) -> None:
        """Keep the purge schedule and the deleted-id log in step with a soft-delete row's state."""
        pending = self._deleted_at.get(table)
        if pending is None:
            return
        if is_deleted(table, row):
            if row["id"] not in pending:
                pending[row["id"]] = self.clock_ts
                self._deleted_ids[table].add(row["id"])
        else:
            pending.pop(row["id"], None)

    def visible(self, table: str, row: dict) -> bool:
        """Whether a default list endpoint serves a stored row (soft-deleted rows only with ``list_deleted``;
        deleted deals always, they are asked for with ``status=deleted``; deleted files never)."""
        if table == "files":
            return row["active_flag"]
        if table in ("persons", "organizations", "activities", "products"):
            return self.list_deleted or not row["is_deleted"]
        return True

    def deleted_ids(self, table: str) -> set:
        """Ids deleted (soft, hard or purged, incl. rows purged with their deal) since the data set was created."""
        with self.lock:
            return set(self._deleted_ids.get(canonical(table), ()))

    def _stamp(self, table: str) -> str:
        if table in V2_TABLES:
            return fmt_v2(self.clock_ts)
        if table == "leads":
            return fmt_lead(self.clock_ts)
        return fmt_v1(self.clock_ts)

    def table(self, table: str) -> dict:
        table = canonical(table)
        if table in ("users", "activity_types", "currencies", "filters"):
            return {r["id"]: r for r in getattr(self, table)}
        if table.endswith("_fields"):
            return {r["id"]: r for r in self.fields[table[:-7]]}
        return getattr(self, table)

    def live(self, table: str, all_changes: bool = True) -> list[dict]:
        """API-shaped rows the default list endpoints currently serve for ``table`` (deals: every status incl.
        deleted, archived too; deal children and flow: of every stored, i.e. not purged, deal)."""
        with self.lock:
            self.purge()
            table = canonical(table)
            if table == "flow":
                return [item for did in sorted(self.deals) for item in self.flow_items(did, all_changes)]
            rows = self.table(table)
            keys = sorted(rows, key=lambda k: (rows[k]["add_time"], k)) if table == "leads" else sorted(rows)
            return [self.render(table, rows[k]) for k in keys if self.visible(table, rows[k])]

    expected = live


def _v1_ts(stamp: str) -> int:
    return calendar.timegm(time.strptime(stamp, "%Y-%m-%d %H:%M:%S"))


def _flow_value(value: Any) -> Any:
    if isinstance(value, dict):
        return value.get("value")
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return value
