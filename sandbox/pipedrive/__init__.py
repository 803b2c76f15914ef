"""Local emulator of the Pipedrive REST API (v2 cursor endpoints + the v1 endpoints crm-elt reads).

    from sandbox.pipedrive import PipedriveSandbox
    with PipedriveSandbox(seed=1, deals=200) as sb:
        requests.get(f"{sb.base_url}/api/v2/deals", headers={"x-api-token": sb.token})
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sandbox._server import Emulator, EmulatorServer

from .app import TOKEN_COST, PipedriveApp
from .data import TABLES, Dataset

__all__ = ["PipedriveSandbox", "TOKEN_COST", "TABLES"]


class PipedriveSandbox(Emulator):
    def __init__(self, seed: int = 1, deals: int = 200, token: str = "sandbox-token", burst: int = 20,
                 window: float = 2.0, daily_budget: int | None = None, start: datetime | None = None,
                 history_days: int = 365, v1_empty_null: bool = True, host: str = "127.0.0.1",
                 port: int = 0):
        self.seed = seed
        self.token = token
        self.data = Dataset(seed=seed, deals=deals, start=start, history_days=history_days)
        self.app = PipedriveApp(self.data, token, burst=burst, window=window, daily_budget=daily_budget,
                                v1_empty_null=v1_empty_null)
        self.server = EmulatorServer(self.app, host=host, port=port)

    @property
    def base_url(self) -> str:
        return self.server.url

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

    def expected(self, table: str, all_changes: bool = True) -> list[dict]:
        return self.data.expected(table, all_changes=all_changes)
