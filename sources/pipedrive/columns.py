"""Declared column types of every Pipedrive table (see ``sources._schema``).

One dict per table, fields in the API's order: the response item of the list operation the table reads
(v2 OpenAPI for deals, persons, organizations, activities, products, pipelines, stages, deal products;
v1 for the rest), plus the fields the API sends that the spec leaves out (taken from its examples and
the sandbox), plus the optional ``include_fields`` fields. Custom fields are not here: they are typed
from their field definitions (``custom_fields.py``); v2 rows lose their ``custom_fields`` object and leads
their 40-hex keys before the conformer sees them.

Rules: ids and counts → bigint (lead and lead-label ids are UUIDs → text); money, prices, quantities,
discounts, tax and probabilities → double; flags → bool (v1 sends some as 0/1); times → timestamp;
calendar dates → date; nested objects and arrays → json (a JSON column, not a child table).
"""
from __future__ import annotations

from sources._schema import DELETE_COLUMNS

# ``include_fields`` of the v2 list operations: the optional fields, all of them, asked for on every read.
INCLUDE_FIELDS: dict[str, tuple[str, ...]] = {
    # /api/v2/deals and /api/v2/deals/archived take the same list.
    "deals": (
        "next_activity_id", "last_activity_id", "first_won_time", "products_count", "files_count", "notes_count",
        "followers_count", "email_messages_count", "activities_count", "done_activities_count",
        "undone_activities_count", "participants_count", "last_incoming_mail_time", "last_outgoing_mail_time",
        "smart_bcc_email",
    ),
    # Left out: marketing_status and doi_status, which the spec says "can only be included if the company
    # has marketing app enabled" (an add-on that may be off).
    "persons": (
        "next_activity_id", "last_activity_id", "open_deals_count", "related_open_deals_count",
        "closed_deals_count", "related_closed_deals_count", "participant_open_deals_count",
        "participant_closed_deals_count", "email_messages_count", "activities_count", "done_activities_count",
        "undone_activities_count", "files_count", "notes_count", "followers_count", "won_deals_count",
        "related_won_deals_count", "lost_deals_count", "related_lost_deals_count", "last_incoming_mail_time",
        "last_outgoing_mail_time",
    ),
    "organizations": (
        "next_activity_id", "last_activity_id", "open_deals_count", "related_open_deals_count",
        "closed_deals_count", "related_closed_deals_count", "email_messages_count", "people_count",
        "activities_count", "done_activities_count", "undone_activities_count", "files_count", "notes_count",
        "followers_count", "won_deals_count", "related_won_deals_count", "lost_deals_count",
        "related_lost_deals_count",
        # added to v2 after the 2025-10 description (Pipedrive changelog, 2026): nullable, only on request
        "website", "linkedin", "industry", "annual_revenue", "employee_count",
    ),
    "activities": ("attendees",),
}

DEALS = {
    "id": "bigint",
    "title": "text",
    "creator_user_id": "bigint",          # in the examples (and the sandbox), not in the response schema
    "owner_id": "bigint",
    "value": "double",
    "person_id": "bigint",
    "org_id": "bigint",
    "stage_id": "bigint",
    "pipeline_id": "bigint",
    "currency": "text",
    "archive_time": "timestamp",          # in the examples (and the sandbox), not in the response schema
    "add_time": "timestamp",
    "update_time": "timestamp",
    "stage_change_time": "timestamp",
    "status": "text",
    "is_archived": "bool",
    "is_deleted": "bool",
    "probability": "double",
    "lost_reason": "text",
    "visible_to": "bigint",
    "close_time": "timestamp",
    "won_time": "timestamp",
    "lost_time": "timestamp",
    "local_won_date": "date",             # local_*_date: in the examples only
    "local_lost_date": "date",
    "local_close_date": "date",
    "expected_close_date": "date",
    "label_ids": "json",
    "origin": "text",
    "origin_id": "text",
    "channel": "bigint",
    "channel_id": "text",
    "acv": "double",                      # arr, mrr, acv: Growth plans and above, else null
    "arr": "double",
    "mrr": "double",
    # include_fields
    "next_activity_id": "bigint",
    "last_activity_id": "bigint",
    "first_won_time": "timestamp",
    "products_count": "bigint",
    "files_count": "bigint",
    "notes_count": "bigint",
    "followers_count": "bigint",
    "email_messages_count": "bigint",
    "activities_count": "bigint",
    "done_activities_count": "bigint",
    "undone_activities_count": "bigint",
    "participants_count": "bigint",
    "last_incoming_mail_time": "timestamp",
    "last_outgoing_mail_time": "timestamp",
    "smart_bcc_email": "text",
}

# include_fields that persons and organizations share
NEXT_ACTIVITY_AND_DEAL_TOTALS = {
    "next_activity_id": "bigint",
    "last_activity_id": "bigint",
    "open_deals_count": "bigint",
    "related_open_deals_count": "bigint",
    "closed_deals_count": "bigint",
    "related_closed_deals_count": "bigint",
}
ACTIVITY_AND_DEAL_COUNTS = {
    "activities_count": "bigint",
    "done_activities_count": "bigint",
    "undone_activities_count": "bigint",
    "files_count": "bigint",
    "notes_count": "bigint",
    "followers_count": "bigint",
    "won_deals_count": "bigint",
    "related_won_deals_count": "bigint",
    "lost_deals_count": "bigint",
    "related_lost_deals_count": "bigint",
}

PERSONS = {
    "id": "bigint",
    "name": "text",
    "first_name": "text",
    "last_name": "text",
    "owner_id": "bigint",
    "org_id": "bigint",
    "add_time": "timestamp",
    "update_time": "timestamp",
    "emails": "json",
    "phones": "json",
    "is_deleted": "bool",
    "visible_to": "bigint",
    "label_ids": "json",
    "picture_id": "bigint",
    # notes, im, birthday, job_title, postal_address: only when contact sync is enabled for the company
    "notes": "text",
    "im": "json",
    "birthday": "date",
    "job_title": "text",
    "postal_address": "json",
    # include_fields
    **NEXT_ACTIVITY_AND_DEAL_TOTALS,
    "participant_open_deals_count": "bigint",
    "participant_closed_deals_count": "bigint",
    "email_messages_count": "bigint",
    **ACTIVITY_AND_DEAL_COUNTS,
    "last_incoming_mail_time": "timestamp",
    "last_outgoing_mail_time": "timestamp",
}

ORGANIZATIONS = {
    "id": "bigint",
    "name": "text",
    "owner_id": "bigint",
    "add_time": "timestamp",
    "update_time": "timestamp",
    "is_deleted": "bool",
    "visible_to": "bigint",
    "address": "json",
    "label_ids": "json",
    # include_fields
    **NEXT_ACTIVITY_AND_DEAL_TOTALS,
    "email_messages_count": "bigint",
    "people_count": "bigint",
    **ACTIVITY_AND_DEAL_COUNTS,
    "website": "text",
    "linkedin": "text",
    "industry": "text",                   # a label or an option id: text holds either
    "annual_revenue": "double",
    "employee_count": "bigint",
}

ACTIVITIES = {
    "id": "bigint",
    "subject": "text",
    "type": "text",
    "owner_id": "bigint",
    "creator_user_id": "bigint",
    "is_deleted": "bool",
    "add_time": "timestamp",
    "update_time": "timestamp",
    "deal_id": "bigint",
    "lead_id": "text",                    # a lead's UUID
    "person_id": "bigint",
    "org_id": "bigint",
    "project_id": "bigint",
    "due_date": "date",
    "due_time": "text",                   # "HH:MM:SS", no date
    "duration": "text",                   # "HH:MM:SS"
    "busy": "bool",
    "done": "bool",
    "marked_as_done_time": "timestamp",
    "location": "json",
    "participants": "json",
    "attendees": "json",                  # also an include_fields value
    "conference_meeting_client": "text",
    "conference_meeting_url": "text",
    "conference_meeting_id": "text",
    "public_description": "text",
    "priority": "bigint",
    "note": "text",
}

PRODUCTS = {
    # The spec's list schema nests the product in a second envelope and omits description, category,
    # add_time and update_time; this follows the example (and the sandbox), which are flat.
    "id": "bigint",                       # spec: number
    "name": "text",
    "code": "text",
    "description": "text",
    "unit": "text",
    "tax": "double",
    "category": "text",
    "is_linkable": "bool",
    "is_deleted": "bool",
    "visible_to": "bigint",               # spec: number (1, 3, 5, 7)
    "owner_id": "bigint",
    "add_time": "timestamp",
    "update_time": "timestamp",
    "billing_frequency": "text",
    "billing_frequency_cycles": "bigint",
    "prices": "json",
}

PIPELINES = {
    "id": "bigint",
    "name": "text",
    "order_nr": "bigint",
    "is_selected": "bool",
    "is_deleted": "bool",
    "is_deal_probability_enabled": "bool",
    "add_time": "timestamp",
    "update_time": "timestamp",
}

STAGES = {
    "id": "bigint",
    "order_nr": "bigint",
    "name": "text",
    "is_deleted": "bool",
    "deal_probability": "double",         # spec: integer; a probability like deals.probability (a number)
    "pipeline_id": "bigint",
    "is_deal_rot_enabled": "bool",
    "days_to_rotten": "bigint",
    "add_time": "timestamp",
    "update_time": "timestamp",
}

DEAL_PRODUCTS = {
    "id": "bigint",
    "sum": "double",
    "tax": "double",
    "deal_id": "bigint",
    "name": "text",
    "product_id": "bigint",
    "product_variation_id": "bigint",
    "order_nr": "bigint",
    "add_time": "timestamp",
    "update_time": "timestamp",
    "comments": "text",
    "currency": "text",
    "discount": "double",
    "discount_type": "text",
    "quantity": "double",                 # spec: integer; products can be sold in fractional units
    "item_price": "double",
    "tax_method": "text",
    "is_enabled": "bool",
    "billing_frequency": "text",
    "billing_frequency_cycles": "bigint",
    "billing_start_date": "date",
}

# The ``data`` of the flow's dealChange items; the pipeline stores the API's ``item_id`` as ``deal_id``.
DEALFLOW = {
    "id": "bigint",
    "deal_id": "bigint",
    "user_id": "bigint",
    "field_key": "text",
    "field_name": "text",                 # the field's readable name, filled by the pipeline
    "old_value": "text",                  # any field's value: a number, text, an id, a date...
    "new_value": "text",
    "log_time": "timestamp",
    "change_source": "text",
    "change_source_user_agent": "text",
    "is_bulk_update_flag": "bool",
    "additional_data": "json",            # {} or [] when empty
}

# As ``shapes.participant`` flattens the v1 participant (person and user sub-objects → ids and a name).
DEAL_PARTICIPANTS = {
    "id": "bigint",
    "deal_id": "bigint",
    "person_id": "bigint",
    "person_name": "text",
    "add_time": "timestamp",
    "active_flag": "bool",
    "added_by_user_id": "bigint",
}

LEADS = {
    "id": "text",                         # UUID
    "title": "text",
    "owner_id": "bigint",
    "creator_id": "bigint",
    "label_ids": "json",                  # lead label UUIDs
    "person_id": "bigint",
    "organization_id": "bigint",
    "source_name": "text",
    "origin": "text",
    "origin_id": "text",
    "channel": "bigint",
    "channel_id": "text",
    "is_archived": "bool",
    "was_seen": "bool",
    "value": "json",                      # {"amount": 200, "currency": "EUR"} or null
    "expected_close_date": "date",
    "next_activity_id": "bigint",
    "add_time": "timestamp",
    "update_time": "timestamp",
    "visible_to": "text",                 # v1 leads send it as a string ("3"), unlike the v2 entities
    "cc_email": "text",
}

NOTES = {
    "id": "bigint",
    "active_flag": "bool",
    "add_time": "timestamp",
    "content": "text",                    # HTML
    "deal": "json",                       # {"title": ...}
    "lead_id": "text",                    # a lead's UUID
    "deal_id": "bigint",
    "last_update_user_id": "bigint",
    "org_id": "bigint",
    "organization": "json",               # {"name": ...}
    "person": "json",                     # {"name": ...}
    "person_id": "bigint",
    "project_id": "bigint",
    "project": "json",                    # {"title": ...}
    "pinned_to_lead_flag": "bool",        # in the example (and the sandbox), not in the response schema
    "pinned_to_deal_flag": "bool",
    "pinned_to_organization_flag": "bool",
    "pinned_to_person_flag": "bool",
    "pinned_to_project_flag": "bool",
    "update_time": "timestamp",
    "user": "json",                       # {"email", "icon_url", "is_you", "name"}
    "user_id": "bigint",
}

FILES = {
    "id": "bigint",
    "user_id": "bigint",
    "deal_id": "bigint",
    "person_id": "bigint",
    "org_id": "bigint",
    "product_id": "bigint",
    "activity_id": "bigint",
    "lead_id": "text",                    # a lead's UUID
    "log_id": "bigint",                   # in the example (null) and the sandbox, not in the response schema
    "add_time": "timestamp",
    "update_time": "timestamp",
    "file_name": "text",
    "file_type": "text",                  # in the example and the sandbox, not in the response schema
    "file_size": "bigint",
    "active_flag": "bool",
    "inline_flag": "bool",
    "remote_location": "text",
    "remote_id": "text",
    "cid": "text",
    "s3_bucket": "text",
    "mail_message_id": "text",
    "mail_template_id": "text",
    "deal_name": "text",
    "person_name": "text",
    "lead_name": "text",
    "org_name": "text",
    "product_name": "text",
    "url": "text",
    "name": "text",
    "description": "text",
}

USERS = {
    "id": "bigint",
    "name": "text",
    "default_currency": "text",
    "locale": "text",
    "lang": "bigint",
    "email": "text",
    "phone": "text",
    "activated": "bool",
    "last_login": "timestamp",
    "created": "timestamp",
    "modified": "timestamp",
    "has_created_company": "bool",
    "access": "json",                     # [{"app", "admin", "permission_set_id"}]
    "active_flag": "bool",
    "timezone_name": "text",
    "timezone_offset": "text",            # "+02:00"
    "role_id": "bigint",
    "icon_url": "text",
    "is_you": "bool",
    "is_deleted": "bool",
}

ACTIVITY_TYPES = {
    "id": "bigint",
    "order_nr": "bigint",
    "name": "text",
    "key_string": "text",
    "icon_key": "text",
    "active_flag": "bool",
    "color": "text",                      # 6-character hex
    "is_custom_flag": "bool",
    "add_time": "timestamp",
    "update_time": "timestamp",
}

CURRENCIES = {
    "id": "bigint",
    "code": "text",
    "name": "text",
    "decimal_points": "bigint",
    "symbol": "text",
    "active_flag": "bool",
    "is_custom_flag": "bool",
}

FILTERS = {
    "id": "bigint",
    "name": "text",
    "active_flag": "bool",
    "type": "text",
    "temporary_flag": "bool",             # in the example (null) and the sandbox, not in the response schema
    "user_id": "bigint",
    "add_time": "timestamp",
    "update_time": "timestamp",
    "visible_to": "bigint",
    "custom_view_id": "bigint",
}

# The five v1 *Fields lists share one shape (productFields documents fewer keys but sends the same ones,
# plus picklist_data).
FIELD_DEFINITIONS = {
    "id": "bigint",                       # null for subfields
    "key": "text",                        # a 40-hex hash for custom fields
    "name": "text",
    "order_nr": "bigint",
    "picklist_data": "json",              # productFields only
    "field_type": "text",
    "add_time": "timestamp",
    "update_time": "timestamp",
    "last_updated_by_user_id": "bigint",
    "created_by_user_id": "bigint",
    "active_flag": "bool",
    "edit_flag": "bool",
    "index_visible_flag": "bool",
    "details_visible_flag": "bool",
    "add_visible_flag": "bool",
    "important_flag": "bool",
    "bulk_edit_allowed": "bool",
    "searchable_flag": "bool",
    "filtering_allowed": "bool",
    "sortable_flag": "bool",
    "mandatory_flag": "bool",
    "options": "json",
    "options_deleted": "json",
    "is_subfield": "bool",
    "subfields": "json",
}

# Built by the pipeline from the *_fields tables: one row per custom field.
CUSTOM_FIELDS = {
    "hash": "text",
    "entity": "text",
    "name": "text",
    "column": "text",
    "field_type": "text",
}

COLUMNS: dict[str, dict[str, str]] = {table: {**columns, **DELETE_COLUMNS} for table, columns in {
    "deal_fields": FIELD_DEFINITIONS,
    "person_fields": FIELD_DEFINITIONS,
    "organization_fields": FIELD_DEFINITIONS,
    "product_fields": FIELD_DEFINITIONS,
    "activity_fields": FIELD_DEFINITIONS,
    "deals": DEALS,
    "persons": PERSONS,
    "organizations": ORGANIZATIONS,
    "activities": ACTIVITIES,
    "products": PRODUCTS,
    "pipelines": PIPELINES,
    "stages": STAGES,
    "deal_products": DEAL_PRODUCTS,
    "dealflow": DEALFLOW,
    "deal_participants": DEAL_PARTICIPANTS,
    "leads": LEADS,
    "notes": NOTES,
    "files": FILES,
    "users": USERS,
    "activity_types": ACTIVITY_TYPES,
    "currencies": CURRENCIES,
    "filters": FILTERS,
    "custom_fields": CUSTOM_FIELDS,
}.items()}
