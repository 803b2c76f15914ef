"""Pipedrive settings: the values dlt injects into ``pipedrive_source``, checked (one-line errors)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sources._caps import TokenCaps
from sources._config import at_least, config_key, parse_date, required, table_list, token_caps
from sources._errors import ConfigError

_DOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", re.I)


@dataclass
class PipedriveSettings:
    base_url: str
    api_token: str
    start_date: datetime | None = None
    rate_limit_burst: int | None = None     # at most this many requests per 2 s; None: what the server allows
    reconcile_every_hours: float = 24       # id scan that marks vanished rows deleted; 0 = every run
    checkpoint_minutes: float = 5           # crm-elt runs load and commit at least this often
    caps: TokenCaps = field(default_factory=TokenCaps)    # tokens this pipeline may spend a run / a UTC day
    history_tables: tuple[str, ...] = ()    # tables that also load every version into <table>_history (scd2)


def pipedrive_settings(api_token: Any, company_domain: Any, base_url: Any, start_date: Any,
                       rate_limit_burst: Any, reconcile_every_hours: Any, checkpoint_minutes: Any,
                       max_tokens_per_run: Any = None, max_tokens_per_day: Any = None,
                       history_tables: Any = None) -> PipedriveSettings:
    from sources.pipedrive.tables import TABLES

    token = required(api_token, "api_token", secret=True)
    if base_url:
        base_url = required(base_url, "base_url", where_to=True)
    else:
        domain = required(company_domain, "company_domain", where_to=True)
        domain = domain.removeprefix("https://").removesuffix("/").removesuffix(".pipedrive.com")
        if not _DOMAIN.match(domain):
            raise ConfigError(f"{config_key('company_domain')}: {domain!r} is not a company domain; use the "
                              "part before .pipedrive.com (e.g. 'acme')")
        base_url = f"https://{domain}.pipedrive.com"
    return PipedriveSettings(
        base_url=str(base_url).strip().rstrip("/"), api_token=token,
        start_date=parse_date(start_date, "start_date"),
        rate_limit_burst=(None if rate_limit_burst in (None, "")
                          else int(at_least(rate_limit_burst, "rate_limit_burst", 1))),
        reconcile_every_hours=at_least(reconcile_every_hours, "reconcile_every_hours", 0),
        checkpoint_minutes=at_least(checkpoint_minutes, "checkpoint_minutes", 0.01),
        caps=token_caps(max_tokens_per_run, max_tokens_per_day),
        history_tables=table_list(history_tables, "history_tables", TABLES, source="pipedrive"),
    )
