"""The Pipedrive table registry: one declarative entry per table.

Modes:
- ``cdc``: v2 list sorted by ``update_time`` ascending from ``updated_since`` (inclusive) = stored cursor.
- ``full``: the whole list every run, table replaced.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

V2_LIMIT = 500


@dataclass(frozen=True)
class Endpoint:
    path: str
    cost: int                      # Pipedrive tokens per request (x-token-cost)


@dataclass(frozen=True)
class Table:
    name: str
    endpoints: tuple[Endpoint, ...]
    mode: str                                  # "cdc" | "full"
    paging: str = "v2"                         # "v2" cursor | "v1" start/limit | "none"
    primary_key: str = "id"
    cursor_field: str = "update_time"
    page_size: int = V2_LIMIT
    params: Mapping[str, str] = field(default_factory=dict)
    timestamps: tuple[str, ...] = ("add_time", "update_time")
    dates: tuple[str, ...] = ()

    @property
    def write_disposition(self) -> str:
        return "replace" if self.mode == "full" else "merge"


DEAL_TIMES = ("add_time", "update_time", "stage_change_time", "close_time", "won_time", "lost_time",
              "archive_time", "first_won_time", "last_incoming_mail_time", "last_outgoing_mail_time")

TABLES: dict[str, Table] = {t.name: t for t in [
    # status=deleted is opt-in: without it deleted deals never arrive and stay "live" in the warehouse.
    # Archived deals live on a separate v2 endpoint (not returned by /deals).
    Table("deals", (Endpoint("/api/v2/deals", 10), Endpoint("/api/v2/deals/archived", 20)), "cdc",
          params={"status": "open,won,lost,deleted"}, timestamps=DEAL_TIMES, dates=("expected_close_date",)),
]}
