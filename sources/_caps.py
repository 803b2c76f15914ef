"""The pipeline's own token caps: ``max_tokens_per_run`` and ``max_tokens_per_day`` (per source section).

Pipedrive's daily budget is shared by every user and integration of the company; a first load could spend
it all. The caps bound what crm-elt spends: the client stops before a request that would pass the cap
(``ApiClient.cap``), the run ends like a budget stop (rows read are loaded, queues and finished cursors
kept, exit 0) and the next run continues. The day's spend is kept in the source's dlt state (it commits
with the loads, so it belongs to the warehouse), per UTC day.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, MutableMapping

SPEND_KEY = "token_spend"


@dataclass(frozen=True)
class TokenCaps:
    per_run: int | None = None
    per_day: int | None = None

    def allowance(self, state: MutableMapping[str, Any], now: datetime) -> int | None:
        """Tokens this run may spend (None: no cap), given what the state says was spent today."""
        left = [cap for cap in (self.per_run, None if self.per_day is None else self.per_day - spent_today(state, now))
                if cap is not None]
        return max(0, min(left)) if left else None

    def describe(self, spent_before: int) -> str:
        """The caps as the stop line names them."""
        rules = [f"max_tokens_per_run = {self.per_run}" if self.per_run is not None else "",
                 f"max_tokens_per_day = {self.per_day}, {spent_before} spent earlier today"
                 if self.per_day is not None else ""]
        return "; ".join(rule for rule in rules if rule)


def spent_today(state: MutableMapping[str, Any], now: datetime) -> int:
    spend = state.get(SPEND_KEY) or {}
    return int(spend.get("tokens", 0)) if spend.get("day") == now.date().isoformat() else 0


def record_spend(state: MutableMapping[str, Any], started: datetime, before: int, spent: int) -> None:
    """The day's spend = what earlier runs of the day spent + this run's so far (idempotent: called as
    each table ends)."""
    state[SPEND_KEY] = {"day": started.date().isoformat(), "tokens": before + spent}
