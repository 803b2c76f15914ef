"""Local emulator of the Pipedrive REST API (v2 cursor endpoints + the v1 endpoints crm-elt reads).

    from sandbox.pipedrive import PipedriveSandbox
    with PipedriveSandbox(seed=1, deals=200) as sb:
        requests.get(f"{sb.base_url}/api/v2/deals", headers={"x-api-token": sb.token})

Deletes behave per entity like the API: deals get status ``deleted`` (listed with ``status=...deleted``);
persons, organizations, activities and products get ``is_deleted: true`` and leave the v2 lists unless
``list_deleted=True`` (then they are listed, flagged); files get ``active_flag: false`` and leave ``/v1/files``;
notes, leads, deal products and participants vanish. A soft-deleted row is purged 30 days (logical clock)
after its deletion; a purged deal takes its deal products, participants and flow along (its per-deal
endpoints answer 404). ``live(table)`` is what the list endpoints serve now, ``deleted_ids(table)`` what was
deleted since the data set was created.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sandbox._server import Emulator, EmulatorServer

from .app import TOKEN_COST, PipedriveApp
from .data import PURGE_AFTER, TABLES, Dataset

__all__ = ["PipedriveSandbox", "TOKEN_COST", "TABLES", "PURGE_AFTER"]


class PipedriveSandbox(Emulator):
    def __init__(self, seed: int = 1, deals: int = 200, token: str = "sandbox-token", burst: int = 20,
                 window: float = 2.0, daily_budget: int | None = None, start: datetime | None = None,
                 history_days: int = 365, v1_empty_null: bool = True, host: str = "127.0.0.1",
                 port: int = 0, list_deleted: bool = False, page_cap: int = 500):
        self.seed = seed
        self.token = token
        self.data = Dataset(seed=seed, deals=deals, start=start, history_days=history_days, list_deleted=list_deleted)
        self.app = PipedriveApp(self.data, token, burst=burst, window=window, daily_budget=daily_budget,
                                v1_empty_null=v1_empty_null, page_cap=page_cap)
        self.server = EmulatorServer(self.app, host=host, port=port)

    @property
    def base_url(self) -> str:
        return self.server.url

    @property
    def list_deleted(self) -> bool:
        """Whether the v2 persons/organizations/activities/products lists also serve soft-deleted rows."""
        return self.data.list_deleted

    @list_deleted.setter
    def list_deleted(self, value: bool) -> None:
        self.data.list_deleted = bool(value)

    # ------------------------------------------------------------------ accounting / limits
    @property
    def tokens_spent(self) -> int:
        return self.app.budget.spent_total

    @property
    def tokens_by_path(self) -> dict[str, int]:
        return dict(self.app.budget.by_path)

    @property
    def daily_budget(self) -> int | None:
        return self.app.budget.daily_budget

    @daily_budget.setter
    def daily_budget(self, value: int | None) -> None:
        self.app.budget.daily_budget = value

    def reset_limits(self) -> None:
        """Forget the burst window and any 403 ban (not the token counters)."""
        self.app.reset_limits()

    # ------------------------------------------------------------------ logical clock
    @property
    def clock(self) -> datetime:
        return self.data.clock

    def tick(self, seconds: float = 1) -> datetime:
        """Advance the logical clock (and purge what was deleted ``PURGE_AFTER`` seconds ago or earlier)."""
        return self.data.tick(seconds)

    # ------------------------------------------------------------------ data
    def mutate(self, seed: int = 2, updates: int = 20, inserts: int = 5, deletes: int = 3,
               same_second: int = 0) -> dict[str, list]:
        return self.data.mutate(seed=seed, updates=updates, inserts=inserts, deletes=deletes,
                                same_second=same_second)

    def update(self, table: str, id: Any, **fields: Any) -> None:
        self.data.update(table, id, **fields)

    def insert(self, table: str, **fields: Any) -> Any:
        return self.data.insert(table, **fields)

    def delete(self, table: str, id: Any) -> None:
        self.data.delete(table, id)

    def rename_field(self, entity: str, key: str, name: str) -> None:
        self.data.rename_field(entity, key, name)

    def add_field(self, entity: str, name: str, field_type: str = "varchar") -> str:
        return self.data.add_field(entity, name, field_type)

    def add_option(self, entity: str, key: str, label: str) -> int:
        return self.data.add_option(entity, key, label)

    def custom_field_keys(self, entity: str) -> dict[str, str]:
        """{field name: 40-hex key} of an entity's custom fields."""
        from .data import _entity
        return {f["name"]: f["key"] for f in self.data.fields[_entity(entity)] if f["edit_flag"]}

    def live(self, table: str, all_changes: bool = True) -> list[dict]:
        """API-shaped rows the default list endpoints serve now for ``table``, by id (leads by add_time).

        deals: every status incl. deleted, archived or not (= /api/v2/deals?status=open,won,lost,deleted plus
        /api/v2/deals/archived with the same status); persons/organizations/activities/products: not deleted,
        or all with ``list_deleted``; files: active; deal_products/participants/flow: of the deals not purged
        (flow with custom field changes unless ``all_changes=False``)."""
        return self.data.live(table, all_changes=all_changes)

    def deleted_ids(self, table: str) -> set:
        """Ids of ``table`` deleted since the data set was created: soft (still stored, flagged), hard, or
        purged (incl. deal products, participants and flow event ids removed with a purged deal)."""
        return self.data.deleted_ids(table)

    def expected(self, table: str, all_changes: bool = True) -> list[dict]:
        """Same as ``live`` (the older name)."""
        return self.data.live(table, all_changes=all_changes)
