"""The HotProfile table registry: one declarative entry per list call."""
from __future__ import annotations

from dataclasses import dataclass

DATETIME_FORMAT = "%Y/%m/%d %H:%M:%S"     # how HotProfile writes and reads timestamps (Japan time, naive)
DATE_FORMAT = "%Y/%m/%d"


@dataclass(frozen=True)
class Table:
    name: str                    # also the key of the list in the response body
    path: str
    page_size: int               # the call's cap of page[display_number]
    paging: str = "keyset"       # "keyset": search[from_id], id ascending
    since_param: str = "search[from_datetime_updated_on]"
    until_param: str = "search[to_datetime_updated_on]"
    filter_format: str = DATETIME_FORMAT
    text_columns: tuple[str, ...] = ()
    timestamps: tuple[str, ...] = ("created_at", "updated_at")


TABLES: dict[str, Table] = {t.name: t for t in [
    Table("clients", "/rest_api/v1/clients/get_entry_list_flow", 1000,
          text_columns=("corporate_number", "zip", "main_tel", "zip_sub", "user_code")),
]}
