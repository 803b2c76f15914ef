"""Row shapes of the tables that need code: API object (+ the deal it was read for) → row."""
from __future__ import annotations


def flow_event(item: dict, deal_id: int | None) -> dict | None:
    """Deal flow mixes dealChange, activity, note, file... items; the dealflow table keeps deal changes."""
    if item.get("object") != "dealChange":
        return None
    return item["data"]


def participant(item: dict, deal_id: int | None) -> dict:
    person = item.get("person") or {}
    related = item.get("related_item_data") or {}
    return {
        "id": item["id"],
        "deal_id": related.get("deal_id", deal_id),
        "person_id": person.get("id") or (item.get("person_id") or {}).get("value"),
        "person_name": person.get("name"),
        "add_time": item.get("add_time"),
        "active_flag": item.get("active_flag"),
        "added_by_user_id": (item.get("added_by_user_id") or {}).get("id")
        if isinstance(item.get("added_by_user_id"), dict) else item.get("added_by_user_id"),
    }
