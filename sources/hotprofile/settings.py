"""The HotProfile table registry: one declarative entry per list call.

Column groups drive the dlt column hints (``shapes.columns``) and the light per-row work
(``shapes.normalizer``); fields not listed are loaded as dlt infers them (new API fields are not fatal).
"""
from __future__ import annotations

from dataclasses import dataclass

DATETIME_FORMAT = "%Y/%m/%d %H:%M:%S"     # how HotProfile writes and reads timestamps (Japan time, naive)
DATE_FORMAT = "%Y/%m/%d"

# Form fields rendered as check boxes: "ー" when unchecked. Kept raw, plus a derived ``<name>_bool``.
LEAD_FLAGS = ("competitor_flg", "end_user_flg", "error_address_flg", "error_fax_flg", "error_mail_flg",
              "error_tel_flg", "important_customer_flg", "not_dm_flg", "not_fax_flg", "not_mail_flg",
              "not_tel_flg", "store_flg")


@dataclass(frozen=True)
class Table:
    name: str                    # also the key of the list in the response body
    path: str                    # default call; ``[sources.hotprofile] <name>_path`` overrides it
    page_size: int               # the call's cap of page[display_number]
    paging: str = "keyset"       # "keyset": search[from_id], id ascending; "numbered": page[number], id ascending
    since_param: str = "search[from_datetime_updated_on]"
    until_param: str = "search[to_datetime_updated_on]"
    filter_format: str = DATETIME_FORMAT     # DATE_FORMAT: the filter has day granularity (re-read whole days)
    text_columns: tuple[str, ...] = ()       # digits with meaning (leading zeros, codes): always text
    int_columns: tuple[str, ...] = ("id",)   # ids and *_id: bigint ('' → NULL)
    decimal_columns: tuple[str, ...] = ()    # numeric strings ('' → NULL)
    dates: tuple[str, ...] = ()              # ``yyyy/mm/dd`` → date
    flags: tuple[str, ...] = ()              # raw "✓"/"ー" kept; ``<name>_bool`` derived
    lists: tuple[tuple[str, str], ...] = ()  # (list field, element type): child tables ``<table>__<field>``
    timestamps: tuple[str, ...] = ("created_at", "updated_at")

    @property
    def by_day(self) -> bool:
        return self.filter_format == DATE_FORMAT


TABLES: dict[str, Table] = {t.name: t for t in [
    Table("clients", "/rest_api/v1/clients/get_entry_list_flow", 1000,
          text_columns=("corporate_number", "zip", "main_tel", "zip_sub", "user_code"),
          decimal_columns=("latitude", "longitude"),
          lists=(("items", "custom"),)),
    Table("leads", "/rest_api/v1/leads/get_entry_list_flow", 100,
          text_columns=("customer_id", "zip", "tel", "fax", "mobile_tel", "extension", "owner_user_code"),
          int_columns=("id", "client_id", "organization_id", "owner_user_id", "pref_id", "lead_source_kbn_id",
                       "lead_status"),
          decimal_columns=("latitude", "longitude"), dates=("trade_on",), flags=LEAD_FLAGS,
          lists=(("items", "custom"), ("tags", "text"), ("tag_ids", "bigint"), ("user_names", "text"),
                 ("interest_product_type_ids", "bigint"), ("interest_product_type_names", "text"),
                 ("organization_hierarchy", "text"))),
    Table("business_cards", "/rest_api/v1/business_cards/get_entry_list", 1000, paging="numbered",
          since_param="search[from_updated_on]", until_param="search[to_updated_on]", filter_format=DATE_FORMAT,
          text_columns=("zip", "tel", "fax", "mobile_tel", "request_key"),
          int_columns=("id", "pref_id", "lead_source_kbn_id", "status"),
          decimal_columns=("latitude", "longitude"), dates=("trade_on",),
          lists=(("tag_ids", "bigint"),)),
]}
