"""HotProfile settings from dlt config (``[sources.hotprofile]``, or ``[sources.hotprofile.<account>]``)."""
from __future__ import annotations

from datetime import timedelta

from sources._config import config_key, lookup, number, parse_date, require
from sources.hotprofile import PATH_KEYS, HotProfileSettings


def hotprofile_settings(account: str | None = None) -> HotProfileSettings:
    key = require("hotprofile", "api_key", account, secret=True)
    url = str(require("hotprofile", "url_instance", account)).strip()
    return HotProfileSettings(
        url_instance=url, api_key=str(key),
        start_date=parse_date(lookup("hotprofile", "start_date", account), config_key("hotprofile", "start_date", account)),
        lag=timedelta(minutes=number("hotprofile", "lag_minutes", account, default=10, minimum=0)),
        reconcile_every_hours=number("hotprofile", "reconcile_every_hours", account, default=24, minimum=0),
        paths={table: str(value) for key, table in PATH_KEYS.items() if (value := lookup("hotprofile", key, account))},
    )
