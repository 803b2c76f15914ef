"""HotProfile settings: the values dlt injects into ``hotprofile_source``, checked (one-line errors)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sources._caps import TokenCaps
from sources._config import at_least, parse_date, required, table_list, token_caps


@dataclass
class HotProfileSettings:
    url_instance: str
    api_key: str
    start_date: datetime | None = None
    lag: timedelta = timedelta(minutes=10)
    reconcile_every_hours: float = 24       # id scan that marks vanished rows deleted; 0 = every run
    checkpoint_minutes: float = 5           # crm-elt runs load and commit at least this often
    paths: dict[str, str] = field(default_factory=dict)   # table → call path, e.g. the non-``_flow`` calls
    caps: TokenCaps = field(default_factory=TokenCaps)    # calls this pipeline may make a run / a UTC day
    history_tables: tuple[str, ...] = ()    # tables that also load every version into <table>_history (scd2)


def hotprofile_settings(api_key: Any, url_instance: Any, start_date: Any, lag_minutes: Any,
                        reconcile_every_hours: Any, paths: dict[str, Any], checkpoint_minutes: Any,
                        max_tokens_per_run: Any = None, max_tokens_per_day: Any = None,
                        history_tables: Any = None) -> HotProfileSettings:
    from sources.hotprofile.tables import TABLES

    key = required(api_key, "api_key", secret=True)
    return HotProfileSettings(
        url_instance=required(url_instance, "url_instance", where_to=True), api_key=key,
        start_date=parse_date(start_date, "start_date"),
        lag=timedelta(minutes=at_least(lag_minutes, "lag_minutes", 0)),
        reconcile_every_hours=at_least(reconcile_every_hours, "reconcile_every_hours", 0),
        paths={table: str(path) for table, path in paths.items() if path},
        checkpoint_minutes=at_least(checkpoint_minutes, "checkpoint_minutes", 0.01),
        caps=token_caps(max_tokens_per_run, max_tokens_per_day),
        history_tables=table_list(history_tables, "history_tables", TABLES, source="hotprofile"),
    )
