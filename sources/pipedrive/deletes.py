"""Pipedrive deletes: one convention on every table, ``is_deleted`` + ``deleted_at`` (UTC), last values kept.

How a delete reaches the warehouse, per table:

- **flagged in a listed row**: deals (``is_deleted``, listed for 30 days with ``status=deleted``), stages and
  pipelines (``is_deleted``), persons/organizations/activities/products on accounts that list deleted rows
  (``is_deleted``), files and notes (``active_flag: false``). ``deleted_at`` is the row's ``update_time``.
- **vanished from the list**: persons, organizations, activities, products (hidden once deleted), notes and
  leads (hard deleted), files (hidden), deals after their 30-day purge. The id scan (``reconcile_scan``)
  lists every id cheaply (500 a page) and compares with the warehouse; a stored live row the API no longer
  lists is re-emitted as stored, marked deleted, ``deleted_at`` = the run's start. It runs every
  ``reconcile_every_hours`` (and on ``--reconcile``); a table read whole (first load, full refresh, the
  full tables) needs no scan: the read itself is compared.
- **children of a deal** (deal_products, dealflow, deal_participants) are marked with their deal, however
  the deal's delete arrived; a line item or participant removed from a live deal is marked when the deal
  is read again.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Iterator

from typing import TYPE_CHECKING

from sources._warehouse import stored_rows

if TYPE_CHECKING:
    from sources.pipedrive.tables import Table


def is_flagged(table: Table, row: dict) -> bool:
    if table.deleted_flag == "is_deleted":
        return bool(row.get("is_deleted"))
    if table.deleted_flag == "active_flag":
        return row.get("active_flag") in (False, 0)
    return False


def flag(table: Table, rows: list[dict]) -> list[dict]:
    """Set ``is_deleted`` / ``deleted_at`` from the row itself (a live row clears an earlier mark)."""
    stamp = table.cursor_field or "update_time"
    for row in rows:
        deleted = is_flagged(table, row)
        row["is_deleted"] = deleted
        row["deleted_at"] = (row.get(stamp) or row.get("update_time")) if deleted else None
    return rows


def scan_params(table: Table) -> dict[str, Any]:
    """The cheapest complete listing: largest page, id order (an update cannot move a row across pages);
    a status filter stays (deals: deleted ones too)."""
    status = {"status": table.params["status"]} if "status" in table.params else {}
    return {**table.paging.id_order(table.page_size), **status}


def reconcile_scan(table: Table, client: Any) -> Iterator[list[dict]]:
    """Every row of every endpoint of ``table``; requests count under ``<table> (reconcile)``."""
    for endpoint in table.endpoints:
        yield from table.paging.pages(client, endpoint.path, scan_params(table), table=f"{table.name} (reconcile)",
                                      cost=endpoint.cost, overlap=table.paging.overlap)


class Vanished:
    """Compares what one run saw of a table with what the warehouse holds, and marks the difference.

    ``stored`` = (live keys, deleted keys) read from the warehouse *before* the run read the API, so a row
    created while the run reads is never a candidate; a row changed meanwhile is seen by the read or the
    scan and is never marked.
    """

    def __init__(self, table: Table, stored: tuple[set, set], started_at: datetime, scan: bool = False):
        self.table, self.started_at, self.scan = table, started_at, scan
        self.live, self.dead = stored
        self.present: set = set()            # keys listed as live (read or scan)
        self.flagged: dict[Any, dict] = {}   # key → a listed row that says it is deleted

    def saw(self, rows: list[dict]) -> None:
        key = self.table.primary_key
        for row in rows:
            if is_flagged(self.table, row):
                self.flagged[row[key]] = row
            else:
                self.present.add(row[key])

    def revived(self, rows: list[dict]) -> list[dict]:
        """Scanned rows stored as deleted but listed as live again (restored, or a false mark)."""
        key = self.table.primary_key
        return [row for row in rows if row[key] in self.dead and not is_flagged(self.table, row)]

    def gone(self) -> set:
        return self.live - self.present

    def listed(self, gone: set) -> list[dict]:
        """Marks that come as listed rows (the API said they are deleted)."""
        return [self.flagged[key] for key in gone if key in self.flagged]

    def stored(self, gone: set) -> Iterator[list[dict]]:
        """Marks for rows the API no longer lists: as the warehouse holds them."""
        yield from stored_rows(self.table.name, gone - set(self.flagged), self.started_at,
                               column=self.table.primary_key)
