"""The HotProfile table registry: one declarative entry per list call, with its declared columns.

``Table.columns`` declares a type (``sources._schema.TYPES``) for every field the API documents
(``apiDefinition.swagger.json`` 1.8.0, minus the connector artifacts ``itemslabel``, ``itemsvalue`` and
the ``pages`` counters listed inside the items). Every row is conformed to it (``shapes.normalizer``), so
no later value can split a column into a dlt variant (``*__v_*``); a field the API adds later loads as text.

Rules: ids and ``*_id`` → bigint (``customer_id``, a customer code, is text); coordinates and amounts →
decimal; codes that may carry leading zeros (zip, tel, fax, corporate number, user codes, request key) →
text; ``yyyy/mm/dd`` → date; timestamps → timestamp (Japan time converted to UTC); check boxes → their
text plus a derived ``<flag>_bool``; lists → ``nested`` (dlt child tables ``<table>__<field>``, element
types in ``Table.lists``). A list field that arrives as a single value is wrapped in a list, so the parent
table never gets a column of that name.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

from sources.hotprofile.paginators import keyset_pages, numbered_pages

Paging = Callable[[Any, "Table", dict], Iterator[list[dict]]]     # (client, table, params) → pages

DATETIME_FORMAT = "%Y/%m/%d %H:%M:%S"     # how HotProfile writes and reads timestamps (Japan time, naive)
DATE_FORMAT = "%Y/%m/%d"
FLAG_SUFFIX = "_bool"

# Form fields rendered as check boxes: "ー" when unchecked. Kept raw, plus a derived ``<name>_bool``.
LEAD_FLAGS = ("competitor_flg", "end_user_flg", "error_address_flg", "error_fax_flg", "error_mail_flg",
              "error_tel_flg", "important_customer_flg", "not_dm_flg", "not_fax_flg", "not_mail_flg",
              "not_tel_flg", "store_flg")


@dataclass(frozen=True)
class Table:
    name: str                    # also the key of the list in the response body
    path: str                    # default call; ``[sources.hotprofile] <name>_path`` overrides it
    page_size: int               # page[display_number] asked for (the documented cap of the call)
    columns: Mapping[str, str] = field(default_factory=dict, hash=False)   # field → declared type
    paging: Paging = keyset_pages   # search[from_id], id ascending; ``numbered_pages``: page[number], id descending
    since_param: str = "search[from_datetime_updated_on]"
    until_param: str = "search[to_datetime_updated_on]"
    filter_format: str = DATETIME_FORMAT     # DATE_FORMAT: the filter has day granularity (re-read whole days)
    flags: tuple[str, ...] = ()              # check boxes: raw "✓"/"ー" kept as text; ``<name>_bool`` derived
    lists: tuple[tuple[str, str], ...] = ()  # (list field, element type: custom / text / bigint)

    @property
    def by_day(self) -> bool:
        return self.filter_format == DATE_FORMAT

    def of_type(self, kind: str) -> tuple[str, ...]:
        return tuple(name for name, declared in self.columns.items() if declared == kind)

    @property
    def timestamps(self) -> tuple[str, ...]:
        return self.of_type("timestamp")

    @property
    def dates(self) -> tuple[str, ...]:
        return self.of_type("date")


def _types(kind: str, *names: str) -> dict[str, str]:
    return {name: kind for name in names}


def _flags(*names: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in names:
        out[name] = "text"
        out[name + FLAG_SUFFIX] = "bool"
    return out


_ADDRESS = _types("text", "zip", "address", "address1", "address2", "address3")
_COORDINATES = _types("decimal", "latitude", "longitude")
_STAMPS = _types("timestamp", "created_at", "updated_at")

CLIENT_COLUMNS: dict[str, str] = {
    "id": "bigint",
    **_types("text", "name", "name_kana", "name_disp", "pref", "business_category_kbn", "worker_number_kbn",
             "capital_kbn", "ipo_kbn", "main_tel", "url", "mail_domain", "note", "user_name", "user_code",
             "corporate_number"),
    **_ADDRESS, **_COORDINATES, **_STAMPS,
    "sales_last_year": "text",             # free text (255 chars): "1,000,000", "約10億円"; never lost to a type
    "items": "nested",
    # Not in the 1.8.0 spec; tenants with the JSIC industry classification send it, as a list or as one
    # value: always the child table clients__jsic_business_category_kbn.
    "jsic_business_category_kbn": "nested",
}

LEAD_COLUMNS: dict[str, str] = {
    **_types("bigint", "id", "client_id", "lead_source_kbn_id", "lead_status", "organization_id", "owner_user_id",
             "pref_id"),
    **_types("text", "client_name", "customer_id", "email", "extension", "family_name", "family_name_kana", "fax",
             "first_name", "first_name_kana", "lead_source", "lead_source_kbn_name", "lead_status_name",
             "mobile_email", "mobile_tel", "name", "name_kana", "note", "organization_name", "owner_user_code",
             "owner_user_name", "post", "pref", "tel", "url"),
    **_ADDRESS, **_COORDINATES, **_STAMPS,
    "trade_on": "date",
    **_flags(*LEAD_FLAGS),
    **_types("nested", "items", "tags", "tag_ids", "user_names", "interest_product_type_ids",
             "interest_product_type_names", "organization_hierarchy"),
}

BUSINESS_CARD_COLUMNS: dict[str, str] = {
    **_types("bigint", "id", "lead_source_kbn_id", "pref_id", "status"),
    **_types("text", "client_name", "direct_note", "email", "fax", "lead_source", "mobile_email", "mobile_tel",
             "name", "name_kana", "note", "organization_name", "post", "request_key", "tel", "url", "user_name"),
    **_ADDRESS, **_COORDINATES, **_STAMPS,
    "trade_on": "date",
    "tag_ids": "nested",
}


TABLES: dict[str, Table] = {t.name: t for t in [
    Table("clients", "/rest_api/v1/clients/get_entry_list_flow", 1000, CLIENT_COLUMNS,
          lists=(("items", "custom"), ("jsic_business_category_kbn", "text"))),
    Table("leads", "/rest_api/v1/leads/get_entry_list_flow", 100, LEAD_COLUMNS, flags=LEAD_FLAGS,
          lists=(("items", "custom"), ("tags", "text"), ("tag_ids", "bigint"), ("user_names", "text"),
                 ("interest_product_type_ids", "bigint"), ("interest_product_type_names", "text"),
                 ("organization_hierarchy", "text"))),
    Table("business_cards", "/rest_api/v1/business_cards/get_entry_list", 1000, BUSINESS_CARD_COLUMNS,
          paging=numbered_pages, since_param="search[from_updated_on]", until_param="search[to_updated_on]",
          filter_format=DATE_FORMAT, lists=(("tag_ids", "bigint"),)),
]}


def catalog_rows() -> list[tuple[str, ...]]:
    """(table, endpoint, key, mode, deletes) per table, for `crm-elt tables` and the README."""
    return [(t.name, f"POST {t.path}", "id", f"CDC on updated_at via {t.since_param}, merge", "id scan")
            for t in TABLES.values()]
