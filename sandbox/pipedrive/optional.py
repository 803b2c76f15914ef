"""Optional v2 fields, served only when asked for with ``include_fields`` (never stored in rows).

The names are the ``include_fields`` enums of openapi-v2.yaml (getDeals/getArchivedDeals, getPersons,
getOrganizations, getActivities). Values are computed from the data set when a page is rendered: counts
from the related rows that are not deleted, activity ids from the related activities, times RFC3339.
"""
from __future__ import annotations

import calendar
import time
from typing import Any

from .fields import fmt_v2

DEAL_FIELDS = ("next_activity_id", "last_activity_id", "first_won_time", "products_count", "files_count",
               "notes_count", "followers_count", "email_messages_count", "activities_count", "done_activities_count",
               "undone_activities_count", "participants_count", "last_incoming_mail_time", "last_outgoing_mail_time",
               "smart_bcc_email")
PERSON_FIELDS = ("next_activity_id", "last_activity_id", "open_deals_count", "related_open_deals_count",
                 "closed_deals_count", "related_closed_deals_count", "participant_open_deals_count",
                 "participant_closed_deals_count", "email_messages_count", "activities_count", "done_activities_count",
                 "undone_activities_count", "files_count", "notes_count", "followers_count", "won_deals_count",
                 "related_won_deals_count", "lost_deals_count", "related_lost_deals_count", "last_incoming_mail_time",
                 "last_outgoing_mail_time", "marketing_status", "doi_status")
ORGANIZATION_FIELDS = ("next_activity_id", "last_activity_id", "open_deals_count", "related_open_deals_count",
                       "closed_deals_count", "related_closed_deals_count", "email_messages_count", "people_count",
                       "activities_count", "done_activities_count", "undone_activities_count", "files_count",
                       "notes_count", "followers_count", "won_deals_count", "related_won_deals_count",
                       "lost_deals_count", "related_lost_deals_count")
# Added to v2 organizations after the 2025-10 description (Pipedrive changelog, 2026): all nullable.
ORGANIZATION_FIELDS_2026 = ("website", "linkedin", "industry", "annual_revenue", "employee_count")
ORGANIZATION_FIELDS += ORGANIZATION_FIELDS_2026
INDUSTRIES = ("Software", "Manufacturing", "Retail", "Finance", None)
ACTIVITY_FIELDS = ("attendees",)

# table -> the include_fields enum of its v2 list operation
INCLUDE_FIELDS: dict[str, tuple[str, ...]] = {"deals": DEAL_FIELDS, "persons": PERSON_FIELDS,
                                              "organizations": ORGANIZATION_FIELDS, "activities": ACTIVITY_FIELDS}
MARKETING = ("no_consent", "subscribed", "unsubscribed", "archived")


def _ts(v2: str) -> int:
    return calendar.timegm(time.strptime(v2, "%Y-%m-%dT%H:%M:%SZ"))


def _act_key(a: dict) -> tuple:
    return (a["due_date"] or "", a["due_time"] or "", a["id"])


class OptionalFieldsMixin:
    # attributes provided by Dataset
    version: int
    _rel_version: int
    _rel: dict[str, Any]

    def _relations(self) -> dict[str, Any]:
        """Per-version indexes of the related rows that are not deleted."""
        if self._rel_version == self.version:
            return self._rel
        acts: dict[str, dict[int, list[dict]]] = {"deal_id": {}, "person_id": {}, "org_id": {}}
        for a in self.activities.values():
            if not a["is_deleted"]:
                for key, index in acts.items():
                    if a[key]:
                        index.setdefault(a[key], []).append(a)
        notes: dict[str, dict[int, int]] = {"deal_id": {}, "person_id": {}, "org_id": {}}
        for n in self.notes.values():
            for key, index in notes.items():
                if n[key]:
                    index[n[key]] = index.get(n[key], 0) + 1
        files: dict[str, dict[int, int]] = {"deal_id": {}, "person_id": {}, "org_id": {}}
        for f in self.files.values():
            if f["active_flag"]:
                for key, index in files.items():
                    if f[key]:
                        index[f[key]] = index.get(f[key], 0) + 1
        products: dict[int, int] = {}
        for r in self.deal_products.values():
            products[r["deal_id"]] = products.get(r["deal_id"], 0) + 1
        participants: dict[int, int] = {}
        participant_deals: dict[int, list[dict]] = {}
        for r in self.participants.values():
            participants[r["deal_id"]] = participants.get(r["deal_id"], 0) + 1
            deal = self.deals.get(r["deal_id"])
            if deal is not None and not deal["is_deleted"]:
                participant_deals.setdefault(r["person_id"], []).append(deal)
        deals_of: dict[str, dict[int, list[dict]]] = {"person_id": {}, "org_id": {}}
        related_of_org: dict[int, list[dict]] = {}
        for d in self.deals.values():
            if d["is_deleted"]:
                continue
            for key, index in deals_of.items():
                if d[key]:
                    index.setdefault(d[key], []).append(d)
            person = self.persons.get(d["person_id"]) if d["person_id"] else None
            if person is not None and person["org_id"] and person["org_id"] != d["org_id"]:
                related_of_org.setdefault(person["org_id"], []).append(d)
        people: dict[int, int] = {}
        for p in self.persons.values():
            if p["org_id"] and not p["is_deleted"]:
                people[p["org_id"]] = people.get(p["org_id"], 0) + 1
        self._rel = {"acts": acts, "notes": notes, "files": files, "products": products,
                     "participants": participants, "participant_deals": participant_deals, "deals_of": deals_of,
                     "related_of_org": related_of_org, "people": people}
        self._rel_version = self.version
        return self._rel

    def optional_fields(self, table: str, row: dict, names: list[str]) -> dict[str, Any]:
        """{name: value} of the requested optional fields of one stored row of ``table``."""
        if table == "activities":
            return {"attendees": self._attendees(row)} if "attendees" in names else {}
        rel = self._relations()
        key = {"deals": "deal_id", "persons": "person_id", "organizations": "org_id"}[table]
        rid = row["id"]
        acts = rel["acts"][key].get(rid, [])
        done = sorted((a for a in acts if a["done"]), key=_act_key)
        undone = sorted((a for a in acts if not a["done"]), key=_act_key)
        mails = (rid * 7) % 5
        add = _ts(row["add_time"])
        upd = _ts(row["update_time"]) if row["update_time"] else add     # a row the API sent unstamped
        values: dict[str, Any] = {
            "next_activity_id": undone[0]["id"] if undone else None,
            "last_activity_id": done[-1]["id"] if done else None,
            "activities_count": len(acts), "done_activities_count": len(done),
            "undone_activities_count": len(undone),
            "files_count": rel["files"][key].get(rid, 0), "notes_count": rel["notes"][key].get(rid, 0),
            "followers_count": 1 + (rid % 3 == 0), "email_messages_count": mails,
            "last_incoming_mail_time": fmt_v2(max(add, upd - 3600 * (rid % 71))) if mails else None,
            "last_outgoing_mail_time": fmt_v2(max(add, upd - 3600 * (rid % 37) - 600)) if mails > 1 else None,
        }
        if table == "deals":
            values.update(products_count=rel["products"].get(rid, 0),
                          participants_count=rel["participants"].get(rid, 0),
                          first_won_time=self._first_won_time(row),
                          smart_bcc_email=f"sandbox+deal{rid}@pipedrivemail.com")
        else:
            own = rel["deals_of"][key].get(rid, [])
            if table == "persons":
                part = rel["participant_deals"].get(rid, [])
                related = [d for d in part if d["person_id"] != rid]
                values.update(participant_open_deals_count=sum(d["status"] == "open" for d in part),
                              participant_closed_deals_count=sum(d["status"] in ("won", "lost") for d in part),
                              marketing_status=MARKETING[rid % 4],
                              doi_status="confirmed" if rid % 4 == 1 else None)
            else:
                related = rel["related_of_org"].get(rid, [])
                values["people_count"] = rel["people"].get(rid, 0)
                known = rid % 3 != 0
                values.update(website=f"https://org{rid}.example.com" if known else None,
                              linkedin=f"https://www.linkedin.com/company/org{rid}" if rid % 2 else None,
                              industry=INDUSTRIES[rid % len(INDUSTRIES)],
                              annual_revenue=(rid * 125_000 if rid % 2 else rid * 98_765.5) if known else None,
                              employee_count=rid * 7 if known else None)
            for prefix, deals in (("", own), ("related_", related)):
                won = sum(d["status"] == "won" for d in deals)
                lost = sum(d["status"] == "lost" for d in deals)
                values.update({f"{prefix}open_deals_count": sum(d["status"] == "open" for d in deals),
                               f"{prefix}closed_deals_count": won + lost, f"{prefix}won_deals_count": won,
                               f"{prefix}lost_deals_count": lost})
        return {name: values[name] for name in names}

    def _first_won_time(self, deal: dict) -> str | None:
        won = [ev["log_time"] for ev in self.flow.get(deal["id"], [])
               if ev["field_key"] == "status" and ev["new_value"] == "won"]
        times = [f"{t[:10]}T{t[11:19]}Z" for t in won]
        if deal["won_time"]:
            times.append(deal["won_time"])
        return min(times) if times else None

    def _attendees(self, activity: dict) -> list[dict]:
        out = []
        if activity["type"] == "meeting":
            user = self.users[activity["owner_id"] - 1]
            out.append({"email": user["email"], "name": user["name"], "status": "accepted", "is_organizer": True,
                        "person_id": None, "user_id": user["id"]})
        person = self.persons.get(activity["person_id"]) if activity["person_id"] else None
        if person is not None and activity["type"] in ("meeting", "call"):
            email = person["emails"][0]["value"] if person["emails"] else None
            out.append({"email": email, "name": person["name"],
                        "status": "accepted" if activity["done"] else "noreply", "is_organizer": False,
                        "person_id": person["id"], "user_id": None})
        return out
