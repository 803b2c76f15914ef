"""The Pipedrive table registry: one declarative entry per table.

Modes:
- ``cdc``: v2 list sorted by ``update_time`` ascending from ``updated_since`` (inclusive) = stored cursor.
- ``cdc_desc``: list sorted newest first; paging stops at the first row older than the cursor
  (endpoints without ``updated_since``: v2 products, v1 leads/notes/files).
- ``full``: the whole list every run; rows gone from it are marked deleted.
- ``per_deal``: one call per deal changed since the last run (queued by ``deals``); v1 flow/participants.
- ``deal_batch``: ``deal_ids=`` batches of deals changed since the last run (deal products).
- ``fields``: a field-definition list; also drives custom-field naming.
- ``field_map``: the ``custom_fields`` table (hash → entity, name, column), built without a request.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

from sources.pipedrive import shapes

V2_LIMIT = 500
V1_LIMIT = 500


@dataclass(frozen=True)
class Endpoint:
    path: str
    cost: int                      # Pipedrive tokens per request (x-token-cost)


@dataclass(frozen=True)
class Table:
    name: str
    endpoints: tuple[Endpoint, ...]
    mode: str
    paging: str = "v2"                         # "v2" cursor | "v1" start/limit | "none"
    primary_key: str = "id"
    cursor_field: str = "update_time"
    page_size: int = V2_LIMIT
    params: Mapping[str, str | int] = field(default_factory=dict)
    timestamps: tuple[str, ...] = ("add_time", "update_time")
    dates: tuple[str, ...] = ()
    custom_fields: str | None = None           # entity whose custom fields get readable columns
    shape: Callable[[dict, int | None], dict | None] | None = None   # API object → row (None: skip)
    include_fields: bool = False               # ask v2 for every optional field (``include_fields=``)
    # How a listed row says it is deleted: "is_deleted" (true = deleted), "active_flag" (false = deleted),
    # or None (deleted rows just vanish from the list).
    deleted_flag: str | None = "is_deleted"
    # The list hides deleted (or, after 30 days, purged) rows: a periodic id scan finds them.
    reconcile: bool = False

    @property
    def reads_per_deal(self) -> bool:
        return self.mode in ("per_deal", "deal_batch")


def v2(path: str, cost: int = 10) -> tuple[Endpoint, ...]:
    return (Endpoint(f"/api/v2/{path}", cost),)


def v1(path: str, cost: int = 20) -> tuple[Endpoint, ...]:
    return (Endpoint(f"/v1/{path}", cost),)


DEAL_TIMES = ("add_time", "update_time", "stage_change_time", "close_time", "won_time", "lost_time",
              "archive_time", "first_won_time", "last_incoming_mail_time", "last_outgoing_mail_time")
NEWEST_FIRST = {"sort": "update_time DESC"}
FIELD_ENTITIES = ("deal", "person", "organization", "product", "activity")

TABLES: dict[str, Table] = {t.name: t for t in [
    # Field definitions first: they name the custom-field columns of the entity tables below.
    *(Table(f"{entity}_fields", v1(f"{entity}Fields"), "fields", paging="v1", page_size=V1_LIMIT,
            primary_key="key", timestamps=("add_time", "update_time"), deleted_flag=None)
      for entity in FIELD_ENTITIES),
    # status=deleted is opt-in: without it deleted deals never arrive and stay "live" in the warehouse.
    # Archived deals live on a separate v2 endpoint (not returned by /deals).
    # Deleted deals are listed for 30 days, then purged with their products, flow and participants.
    Table("deals", (*v2("deals"), Endpoint("/api/v2/deals/archived", 20)), "cdc",
          params={"status": "open,won,lost,deleted"}, timestamps=DEAL_TIMES, dates=("expected_close_date",),
          custom_fields="deal", include_fields=True, reconcile=True),
    # Deleted persons, organizations, activities and products leave the v2 lists (some accounts list
    # them with is_deleted: both are handled).
    Table("persons", v2("persons"), "cdc", custom_fields="person", include_fields=True, reconcile=True),
    Table("organizations", v2("organizations"), "cdc", custom_fields="organization", include_fields=True,
          reconcile=True),
    Table("activities", v2("activities"), "cdc", custom_fields="activity",
          timestamps=("add_time", "update_time", "marked_as_done_time"), dates=("due_date",),
          include_fields=True, reconcile=True),
    # v2 products has no updated_since: newest first, stop at the cursor.
    Table("products", v2("products"), "cdc_desc", params={"sort_by": "update_time", "sort_direction": "desc"},
          custom_fields="product", reconcile=True),
    Table("pipelines", v2("pipelines", 5), "full"),
    Table("stages", v2("stages", 5), "full"),
    Table("deal_products", v2("deals/products"), "deal_batch", cursor_field="", params={"sort_by": "id"},
          deleted_flag=None),
    # Children of a deal: marked deleted with their deal, rows removed from a deal marked deleted.
    Table("dealflow", v1("deals/{id}/flow", 40), "per_deal", paging="v1", cursor_field="log_time",
          params={"all_changes": 1}, timestamps=("log_time",), shape=shapes.flow_event, deleted_flag=None),
    Table("deal_participants", v1("deals/{id}/participants", 10), "per_deal", paging="v1", cursor_field="",
          timestamps=("add_time",), shape=shapes.participant, deleted_flag=None),
    # Archived leads only come from /v1/leads/archived. v1 has no updated_since: newest first, early stop.
    # Leads and notes are hard deleted; deleted files stay with active_flag false but leave the list.
    Table("leads", (*v1("leads"), Endpoint("/v1/leads/archived", 40)), "cdc_desc", paging="v1",
          page_size=V1_LIMIT, params=NEWEST_FIRST, dates=("expected_close_date",), custom_fields="deal",
          deleted_flag=None, reconcile=True),
    Table("notes", v1("notes"), "cdc_desc", paging="v1", page_size=V1_LIMIT, params=NEWEST_FIRST,
          deleted_flag="active_flag", reconcile=True),
    Table("files", v1("files"), "cdc_desc", paging="v1", page_size=100, params=NEWEST_FIRST,   # files: limit ≤ 100
          deleted_flag="active_flag", reconcile=True),
    # users.active_flag and activity_types.active_flag mean deactivated, not deleted.
    Table("users", v1("users"), "full", paging="none", timestamps=("created", "modified", "last_login"),
          deleted_flag=None),
    Table("activity_types", v1("activityTypes"), "full", paging="none", deleted_flag=None),
    Table("currencies", v1("currencies"), "full", paging="none", timestamps=(), deleted_flag=None),
    Table("filters", v1("filters"), "full", paging="none", deleted_flag=None),
    # hash → entity, display name and the column it was given; built from the *_fields tables, no request.
    Table("custom_fields", (), "field_map", primary_key="hash", timestamps=(), deleted_flag=None),
]}

DEAL_CHILDREN = tuple(t.name for t in TABLES.values() if t.reads_per_deal)


# --- the registry as rows: `crm-elt tables` and the README (a test keeps them in sync) -----------------

MODES = {
    "cdc": "CDC on {cursor} (`updated_since`), merge",
    "cdc_desc": "CDC on {cursor}, newest first, stops at the cursor; merge",
    "full": "full table, merge",
    "fields": "full table, merge; names custom-field columns",
    "field_map": "built from the *_fields tables (no request), merge",
    "per_deal": "deals changed since the last run, one call each; {how}",
    "deal_batch": "deals changed since the last run, 100 per call; merge",
}
FLAGS = {"is_deleted": "`is_deleted` in the list", "active_flag": "`active_flag = false`"}


def _mode(table: Table) -> str:
    how = f"CDC on {table.cursor_field}, merge" if table.cursor_field else "merge"
    return MODES[table.mode].format(cursor=table.cursor_field, how=how)


def _deletes(table: Table) -> str:
    """How a delete reaches the table (the README's "deletes" column)."""
    if table.reads_per_deal:
        return "with their deal; rows removed from a deal when it is next read"
    if table.mode in ("full", "fields", "field_map"):
        flagged = f"{FLAGS[table.deleted_flag]}, or " if table.deleted_flag else ""
        return f"{flagged}gone from the list: every run"
    if table.name == "deals":
        return "`is_deleted` (listed 30 days); purged: id scan"
    flagged = f"{FLAGS[table.deleted_flag]} when listed, else " if table.deleted_flag else ""
    return f"{flagged}id scan"


def catalog_rows() -> list[tuple[str, ...]]:
    """(table, endpoint, key, mode, deletes) per table."""
    return [(t.name, " + ".join(f"GET {e.path}" for e in t.endpoints) or "-", t.primary_key, _mode(t), _deletes(t))
            for t in TABLES.values()]
