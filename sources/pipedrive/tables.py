"""The Pipedrive table registry: one declarative entry per table.

An entry names its behaviour with objects, not strings:
- ``read`` (``readers.py``): ``CDC`` (v2 list sorted by the cursor ascending from ``updated_since``),
  ``CDC_NEWEST_FIRST`` (lists without ``updated_since``: newest first, stop at the cursor), ``FULL`` (the
  whole list every run; rows gone from it are marked deleted), ``PER_DEAL`` (one call per deal its parent
  queued), ``DEAL_BATCH`` (``deal_ids=`` batches), ``FIELDS`` (field definitions; they name custom-field
  columns), ``FIELD_MAP`` (the ``custom_fields`` table, built without a request);
- ``paging`` (``paginators.py``): ``CURSOR`` (v2), ``OFFSET`` (v1), ``ONE_PAGE``;
- ``row_format`` (``custom_fields.py``): ``NESTED`` (v2 ``custom_fields`` object) or ``FLAT`` (v1 hash keys);
- ``parent``: the table whose changed rows queue this table's reads (``deals`` for its children).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from sources.pipedrive import shapes
from sources.pipedrive.custom_fields import ENTITIES, FIELDS_COST, FLAT, NESTED
from sources.pipedrive.paginators import CURSOR, OFFSET, ONE_PAGE, V1_LIMIT, V2_LIMIT
from sources.pipedrive.readers import (CDC, CDC_NEWEST_FIRST, DEAL_BATCH, FIELD_MAP, FIELDS, FULL, PER_DEAL,
                                       ReadStrategy)


@dataclass(frozen=True)
class Endpoint:
    path: str
    cost: int                      # Pipedrive tokens per request (x-token-cost)


@dataclass(frozen=True)
class Table:
    name: str
    endpoints: tuple[Endpoint, ...]
    read: ReadStrategy
    paging: Any = CURSOR
    row_format: Any = NESTED                   # where rows carry their custom fields
    parent: str | None = None                  # per-deal tables: the table that queues their deals
    primary_key: str = "id"
    cursor_field: str = "update_time"
    page_size: int = V2_LIMIT
    params: Mapping[str, str | int] = field(default_factory=dict)
    timestamps: tuple[str, ...] = ("add_time", "update_time")
    dates: tuple[str, ...] = ()
    custom_fields: str | None = None           # entity whose custom fields get readable columns
    shape: Callable[[dict, int | None], dict | None] | None = None   # API object → row (None: skip)
    names_field_keys: str | None = None        # entity whose field names label ``field_key`` (dealflow)
    include_fields: bool = False               # ask v2 for every optional field (``include_fields=``)
    # How a listed row says it is deleted: "is_deleted" (true = deleted), "active_flag" (false = deleted),
    # or None (deleted rows just vanish from the list).
    deleted_flag: str | None = "is_deleted"
    # The list hides deleted (or, after 30 days, purged) rows: a periodic id scan finds them.
    reconcile: bool = False
    deletes_note: str | None = None            # the README's "deletes" text, where the rule needs more words
    # per-deal tables: the parent's field counting this table's rows of a deal (v2 ``include_fields``); a
    # deal that has none now and had none at the last read is not asked (the call could only return nothing)
    count_field: str | None = None

    @property
    def reads_per_deal(self) -> bool:
        return self.read.per_deal


def v2(path: str, cost: int = 10) -> tuple[Endpoint, ...]:
    return (Endpoint(f"/api/v2/{path}", cost),)


def v1(path: str, cost: int = 20) -> tuple[Endpoint, ...]:
    return (Endpoint(f"/v1/{path}", cost),)


DEAL_TIMES = ("add_time", "update_time", "stage_change_time", "close_time", "won_time", "lost_time",
              "archive_time", "first_won_time", "last_incoming_mail_time", "last_outgoing_mail_time")
NEWEST_FIRST = {"sort": "update_time DESC"}

TABLES: dict[str, Table] = {t.name: t for t in [
    # Field definitions first: they name the custom-field columns of the entity tables below.
    *(Table(f"{entity}_fields", (Endpoint(path, FIELDS_COST),), FIELDS, paging=OFFSET, page_size=V1_LIMIT,
            primary_key="key", timestamps=("add_time", "update_time"), deleted_flag=None)
      for entity, path in ENTITIES.items()),
    # status=deleted is opt-in: without it deleted deals never arrive and stay "live" in the warehouse.
    # Archived deals live on a separate v2 endpoint (not returned by /deals).
    # Deleted deals are listed for 30 days, then purged with their products, flow and participants.
    Table("deals", (*v2("deals"), Endpoint("/api/v2/deals/archived", 20)), CDC,
          params={"status": "open,won,lost,deleted"}, timestamps=DEAL_TIMES, dates=("expected_close_date",),
          custom_fields="deal", include_fields=True, reconcile=True,
          deletes_note="`is_deleted` (listed 30 days); purged: id scan"),
    # Deleted persons, organizations, activities and products leave the v2 lists (some accounts list
    # them with is_deleted: both are handled).
    Table("persons", v2("persons"), CDC, custom_fields="person", include_fields=True, reconcile=True),
    Table("organizations", v2("organizations"), CDC, custom_fields="organization", include_fields=True,
          reconcile=True),
    Table("activities", v2("activities"), CDC, custom_fields="activity",
          timestamps=("add_time", "update_time", "marked_as_done_time"), dates=("due_date",),
          include_fields=True, reconcile=True),
    # v2 products has no updated_since: newest first, stop at the cursor.
    Table("products", v2("products"), CDC_NEWEST_FIRST, params={"sort_by": "update_time", "sort_direction": "desc"},
          custom_fields="product", reconcile=True),
    Table("pipelines", v2("pipelines", 5), FULL),
    Table("stages", v2("stages", 5), FULL),
    Table("deal_products", v2("deals/products"), DEAL_BATCH, parent="deals", cursor_field="", params={"sort_by": "id"},
          deleted_flag=None, count_field="products_count"),
    # Children of a deal: marked deleted with their deal, rows removed from a deal marked deleted.
    Table("dealflow", v1("deals/{id}/flow", 40), PER_DEAL, paging=OFFSET, parent="deals", cursor_field="log_time",
          params={"all_changes": 1}, timestamps=("log_time",), shape=shapes.flow_event, names_field_keys="deal",
          deleted_flag=None),
    Table("deal_participants", v1("deals/{id}/participants", 10), PER_DEAL, paging=OFFSET, parent="deals",
          cursor_field="", timestamps=("add_time",), shape=shapes.participant, deleted_flag=None,
          count_field="participants_count"),
    # Archived leads only come from /v1/leads/archived. v1 has no updated_since: newest first, early stop.
    # Leads and notes are hard deleted; deleted files stay with active_flag false but leave the list.
    Table("leads", (*v1("leads"), Endpoint("/v1/leads/archived", 40)), CDC_NEWEST_FIRST, paging=OFFSET,
          row_format=FLAT, page_size=V1_LIMIT, params=NEWEST_FIRST, dates=("expected_close_date",), custom_fields="deal",
          deleted_flag=None, reconcile=True),
    Table("notes", v1("notes"), CDC_NEWEST_FIRST, paging=OFFSET, page_size=V1_LIMIT, params=NEWEST_FIRST,
          deleted_flag="active_flag", reconcile=True),
    Table("files", v1("files"), CDC_NEWEST_FIRST, paging=OFFSET, page_size=100, params=NEWEST_FIRST,   # files: limit ≤ 100
          deleted_flag="active_flag", reconcile=True),
    # users.active_flag and activity_types.active_flag mean deactivated, not deleted.
    Table("users", v1("users"), FULL, paging=ONE_PAGE, timestamps=("created", "modified", "last_login"),
          deleted_flag=None),
    Table("activity_types", v1("activityTypes"), FULL, paging=ONE_PAGE, deleted_flag=None),
    Table("currencies", v1("currencies"), FULL, paging=ONE_PAGE, timestamps=(), deleted_flag=None),
    Table("filters", v1("filters"), FULL, paging=ONE_PAGE, deleted_flag=None),
    # hash → entity, display name and the column it was given; built from the *_fields tables, no request.
    Table("custom_fields", (), FIELD_MAP, paging=ONE_PAGE, primary_key="hash", timestamps=(), deleted_flag=None),
]}

# --- the registry as rows: `crm-elt tables` and the README (a test keeps them in sync) -----------------

FLAGS = {"is_deleted": "`is_deleted` in the list", "active_flag": "`active_flag = false`"}


def _deletes(table: Table) -> str:
    """How a delete reaches the table (the README's "deletes" column)."""
    if table.deletes_note:
        return table.deletes_note
    if table.reads_per_deal:
        return "with their deal; rows removed from a deal when it is next read"
    if table.read.whole:
        flagged = f"{FLAGS[table.deleted_flag]}, or " if table.deleted_flag else ""
        return f"{flagged}gone from the list: every run"
    flagged = f"{FLAGS[table.deleted_flag]} when listed, else " if table.deleted_flag else ""
    return f"{flagged}id scan"


def catalog_rows() -> list[tuple[str, ...]]:
    """(table, endpoint, key, mode, deletes) per table."""
    return [(t.name, " + ".join(f"GET {e.path}" for e in t.endpoints) or "-", t.primary_key, t.read.describe(t),
             _deletes(t))
            for t in TABLES.values()]
