"""Row shapes of the tables that need code: API object (+ the deal it was read for) → row."""
from __future__ import annotations


def flow_event(item: dict, deal_id: int | None) -> dict | None:
    """Deal flow mixes dealChange, activity, note, file... items; the dealflow table keeps deal changes.

    ``old_value``/``new_value`` hold whatever the field holds (numbers, ids, text, lists): stored as text.
    ``field_name`` (the name users see) is filled by the reader from the deal field definitions.
    """
    if item.get("object") != "dealChange":
        return None
    data = item["data"]
    return {
        "id": data.get("id"),
        "deal_id": data.get("item_id", deal_id),
        "user_id": data.get("user_id"),
        "field_key": data.get("field_key"),
        "field_name": None,
        "old_value": data.get("old_value"),
        "new_value": data.get("new_value"),
        "log_time": data.get("log_time"),
        "change_source": data.get("change_source"),
        "change_source_user_agent": data.get("change_source_user_agent"),
        "is_bulk_update_flag": data.get("is_bulk_update_flag"),
        "additional_data": data.get("additional_data"),
    }


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
