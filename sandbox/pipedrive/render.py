"""API-shaped rendering of stored rows: leads (v1 flat custom fields), deal participants, deal flow."""
from __future__ import annotations

import copy

from . import fields as F
from .fields import v2_to_v1


class RenderMixin:
    # ------------------------------------------------------------------ rendering
    def render(self, table: str, row: dict) -> dict:
        """A fresh API-shaped copy of a stored row."""
        if table == "leads":
            out = {k: v for k, v in row.items() if k != "_custom"}
            out.update(F.v1_flat_custom(self.fields["deal"], row["_custom"]))
            return copy.deepcopy(out)
        if table == "participants":
            return self._render_participant(row)
        return copy.deepcopy(row)

    def _person_brief(self, person_id: int | None) -> dict | None:
        p = self.persons.get(person_id) if person_id else None
        if p is None:
            return None
        return {"active_flag": not p["is_deleted"], "name": p["name"],
                "email": [{"label": e["label"], "value": e["value"], "primary": e["primary"]} for e in p["emails"]],
                "phone": [{"label": e["label"], "value": e["value"], "primary": e["primary"]} for e in p["phones"]],
                "value": p["id"]}

    def _user_brief(self, user_id: int) -> dict:
        u = self.users[user_id - 1]
        return {"id": u["id"], "name": u["name"], "email": u["email"], "has_pic": 0, "pic_hash": None,
                "active_flag": u["active_flag"], "value": u["id"]}

    def _render_participant(self, row: dict) -> dict:
        deal = self.deals.get(row["deal_id"]) or {}
        person = self.persons.get(row["person_id"])
        brief = self._person_brief(row["person_id"])
        person_full = None
        if person is not None:
            org = self.organizations.get(person["org_id"]) if person["org_id"] else None
            person_full = {
                "id": person["id"], "owner_id": self._user_brief(person["owner_id"]),
                "org_id": ({"name": org["name"], "owner_id": org["owner_id"], "active_flag": not org["is_deleted"],
                            "value": org["id"]} if org else None),
                "name": person["name"], "first_name": person["first_name"], "last_name": person["last_name"],
                "active_flag": not person["is_deleted"], "phone": brief["phone"], "email": brief["email"],
                "update_time": v2_to_v1(person["update_time"]), "add_time": v2_to_v1(person["add_time"]),
                "visible_to": str(person["visible_to"]), "org_name": org["name"] if org else None,
            }
        return {"id": row["id"], "person_id": brief, "add_time": row["add_time"], "active_flag": row["active_flag"],
                "related_item_data": {"deal_id": row["deal_id"], "title": deal.get("title")},
                "person": person_full, "added_by_user_id": self._user_brief(row["added_by_user_id"]),
                "related_item_type": "deal", "related_item_id": row["deal_id"]}

    def _indexes(self) -> None:
        if self._index_version == self.version:
            return
        acts: dict[int, list[int]] = {}
        for a in self.activities.values():
            if a["deal_id"] and not a["is_deleted"]:
                acts.setdefault(a["deal_id"], []).append(a["id"])
        notes: dict[int, list[int]] = {}
        for n in self.notes.values():
            if n["deal_id"]:
                notes.setdefault(n["deal_id"], []).append(n["id"])
        self._acts_by_deal, self._notes_by_deal, self._index_version = acts, notes, self.version

    def flow_items(self, deal_id: int, all_changes: bool = False, items: set[str] | None = None) -> list[dict]:
        """Flow of a deal, newest first (dealChange + activity + note items)."""
        self._indexes()
        out = []
        custom = {f["key"] for f in self.fields["deal"] if f["edit_flag"]}
        for ev in self.flow.get(deal_id, []):
            if all_changes or ev["field_key"] not in custom:
                out.append({"object": "dealChange", "timestamp": ev["log_time"], "data": copy.deepcopy(ev)})
        for aid in self._acts_by_deal.get(deal_id, []):
            a = self.activities[aid]
            data = {"id": a["id"], "user_id": a["owner_id"], "done": a["done"], "type": a["type"],
                    "due_date": a["due_date"], "due_time": (a["due_time"] or "")[:5], "duration": (a["duration"] or "")[:5],
                    "busy_flag": a["busy"], "add_time": v2_to_v1(a["add_time"]),
                    "marked_as_done_time": v2_to_v1(a["marked_as_done_time"]) or "", "subject": a["subject"],
                    "public_description": a["public_description"], "org_id": a["org_id"], "person_id": a["person_id"],
                    "deal_id": a["deal_id"], "lead_id": a["lead_id"], "project_id": None, "active_flag": True,
                    "update_time": v2_to_v1(a["update_time"]), "note": a["note"],
                    "created_by_user_id": a["creator_user_id"]}
            out.append({"object": "activity", "timestamp": data["add_time"], "data": data})
        for nid in self._notes_by_deal.get(deal_id, []):
            n = self.notes[nid]
            out.append({"object": "note", "timestamp": n["add_time"], "data": copy.deepcopy(n)})
        if items:
            out = [o for o in out if o["object"] in items]
        out.sort(key=lambda o: (o["timestamp"], o["object"], o["data"]["id"]), reverse=True)
        return out
