"""Pipedrive settings from dlt config (``[sources.pipedrive]``, or ``[sources.pipedrive.<account>]``)."""
from __future__ import annotations

import re

from sources._config import config_key, lookup, number, parse_date, require
from sources._errors import ConfigError
from sources.pipedrive import PipedriveSettings

_DOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", re.I)


def pipedrive_settings(account: str | None = None) -> PipedriveSettings:
    token = require("pipedrive", "api_token", account, secret=True)
    base_url = lookup("pipedrive", "base_url", account)
    if not base_url:
        domain = str(require("pipedrive", "company_domain", account)).strip()
        domain = domain.removeprefix("https://").removesuffix("/").removesuffix(".pipedrive.com")
        if not _DOMAIN.match(domain):
            raise ConfigError(f"{config_key('pipedrive', 'company_domain', account)}: {domain!r} is not a company "
                              "domain; use the part before .pipedrive.com (e.g. 'acme')")
        base_url = f"https://{domain}.pipedrive.com"
    return PipedriveSettings(
        base_url=str(base_url).rstrip("/"), api_token=str(token),
        start_date=parse_date(lookup("pipedrive", "start_date", account), config_key("pipedrive", "start_date", account)),
        rate_limit_burst=int(number("pipedrive", "rate_limit_burst", account, default=20, minimum=1)),
        reconcile_every_hours=number("pipedrive", "reconcile_every_hours", account, default=24, minimum=0),
    )
