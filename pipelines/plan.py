"""`crm-elt plan`: what the next run of a source would cost, before it runs: requests, tokens and time
at the plan's pace per table, and how many runs or days a first load needs under the token caps."""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable

from pipelines.lock import pipelines_dir
from pipelines.runner import Target, pipeline_name, select_tables
from pipelines.status import warehouse_totals
from sources import account_source, contracts
from sources._caps import TokenCaps, spent_today
from sources._incremental import RunContext
from sources._plan import Estimate


@dataclass
class Plan:
    source: str
    estimates: list[Estimate]
    rate: float                         # requests per second at the plan's pace
    caps: TokenCaps | None
    spent_today: int
    token_costs: bool

    @property
    def requests(self) -> int:
        return sum(e.requests for e in self.estimates)

    @property
    def tokens(self) -> int:
        return sum(e.tokens for e in self.estimates)

    @property
    def exact(self) -> bool:
        return all(e.exact for e in self.estimates)

    def under_caps(self) -> str | None:
        """How many runs / days the estimated spend needs under the caps (None: no cap)."""
        if not self.caps or (self.caps.per_run is None and self.caps.per_day is None):
            return None
        parts = []
        if self.caps.per_run:
            parts.append(f"{-(-self.tokens // self.caps.per_run)} run(s) at max_tokens_per_run = {self.caps.per_run}")
        if self.caps.per_day:
            left = max(0, self.caps.per_day - self.spent_today)
            days = 1 if self.tokens <= left else 1 + -(-(self.tokens - left) // self.caps.per_day)
            parts.append(f"{days} day(s) at max_tokens_per_day = {self.caps.per_day} ({left} left today)")
        return "; ".join(parts)


def plan_source(source: str, target: Target, *, account: str | None = None, tables: Iterable[str] | None = None,
                settings: Any = None, client: Any = None) -> Plan:
    contract = contracts()[source]
    names = select_tables(source, tables) or list(contract.tables)
    ctx = RunContext()
    account_source(source, account, settings=settings, ctx=ctx, client=client)    # config → settings, client
    state = source_state(target, source, account)
    stored = warehouse_totals(target, source, account, names) or {}
    estimates = contract.plan(ctx.client, ctx, state, stored, names)
    pacer = ctx.client.pacer
    return Plan(source, estimates, pacer.max_requests / pacer.window, ctx.caps,
                spent_today(state, datetime.now(timezone.utc)), contract.token_costs)


def source_state(target: Target, source: str, account: str | None) -> dict:
    """The source's dlt state: the local copy, else the one the warehouse holds (as a run would restore
    it), else {} (nothing loaded yet)."""
    import dlt

    name = pipeline_name(source, account, target.prefix)
    try:
        if os.path.isdir(os.path.join(pipelines_dir(target.pipelines_dir), name)):
            state = dlt.attach(pipeline_name=name, pipelines_dir=target.pipelines_dir).state
        else:
            pipeline = target.pipeline(source, account)
            pipeline.sync_destination()
            state = pipeline.state
    except Exception:
        return {}
    return state.get("sources", {}).get(source, {})


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


def render(plan: Plan) -> list[str]:
    """The plan as lines: one per table, a total, the caps."""
    header = ("table", "requests", "tokens", "time", "note") if plan.token_costs else \
        ("table", "requests", "time", "note")
    rows = []
    for e in [*plan.estimates, Estimate("total", plan.requests, plan.tokens, "", plan.exact)]:
        floor = "" if e.exact else "≥"
        cells = [f"{plan.source}.{e.table}" if e.table != "total" else "total", f"{floor}{e.requests}"]
        if plan.token_costs:
            cells.append(f"{floor}{e.tokens}")
        cells += [duration(e.requests / plan.rate), e.note]
        rows.append(cells)
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows]]
    lines.append(f"pace: {plan.rate:.3g} requests/s (the limit the API states)"
                 + ("" if plan.exact else "; ≥: a floor (the API cannot count those rows before they are read)"))
    caps = plan.under_caps()
    if caps:
        lines.append(f"under the caps: {caps}")
    return lines
