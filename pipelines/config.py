"""Resolve source settings the dlt way: .dlt/*.toml or env vars (SOURCES__PIPEDRIVE__API_TOKEN, ...).

``--account NAME`` reads ``[sources.<source>.NAME]`` first, then falls back to ``[sources.<source>]``.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

import dlt
import pendulum

from sources._errors import ConfigError
from sources._redact import register_secret
from sources.hotprofile import PATH_KEYS, HotProfileSettings
from sources.pipedrive import PipedriveSettings

SOURCES = ("pipedrive", "hotprofile")
_DOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", re.I)


def _key(source: str, name: str, account: str | None) -> str:
    return f"sources.{source}.{account}.{name}" if account else f"sources.{source}.{name}"


def _env(key: str) -> str:
    return key.upper().replace(".", "__")


def lookup(source: str, name: str, account: str | None = None, secret: bool = False) -> Any:
    provider = dlt.secrets if secret else dlt.config
    for candidate in ([account, None] if account else [None]):
        value = provider.get(_key(source, name, candidate))
        if value not in (None, ""):
            return value
    return None


def require(source: str, name: str, account: str | None, secret: bool = False) -> Any:
    value = lookup(source, name, account, secret)
    if value is None:
        key = _key(source, name, account)
        where = ".dlt/secrets.toml" if secret else ".dlt/config.toml"
        raise ConfigError(f"missing {key}: set it in {where} or the environment variable {_env(key)}")
    if secret:
        value = str(value).strip()          # a pasted token often carries a trailing newline
        register_secret(value)
    return value


def parse_date(value: Any, what: str) -> datetime | None:
    """ISO date or datetime (naive = UTC) → aware UTC datetime."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    try:
        parsed = pendulum.parse(str(value), tz="UTC")
    except Exception:
        raise ConfigError(f"{what}: {value!r} is not an ISO date or datetime (e.g. 2024-01-31 or "
                          "2024-01-31T12:00:00Z)") from None
    if not isinstance(parsed, datetime):
        raise ConfigError(f"{what}: {value!r} is not an ISO date or datetime")
    return datetime.fromtimestamp(parsed.timestamp(), tz=timezone.utc)


def number(source: str, name: str, account: str | None, default: float, minimum: float) -> float:
    value = lookup(source, name, account)
    if value in (None, ""):
        return default
    try:
        parsed = float(value)
    except (TypeError, ValueError):
        parsed = minimum - 1
    if parsed < minimum:
        raise ConfigError(f"{_key(source, name, account)}: {value!r} is not a number >= {minimum:g}")
    return parsed


def pipedrive_settings(account: str | None = None) -> PipedriveSettings:
    token = require("pipedrive", "api_token", account, secret=True)
    base_url = lookup("pipedrive", "base_url", account)
    if not base_url:
        domain = str(require("pipedrive", "company_domain", account)).strip()
        domain = domain.removeprefix("https://").removesuffix("/").removesuffix(".pipedrive.com")
        if not _DOMAIN.match(domain):
            raise ConfigError(f"{_key('pipedrive', 'company_domain', account)}: {domain!r} is not a company "
                              "domain; use the part before .pipedrive.com (e.g. 'acme')")
        base_url = f"https://{domain}.pipedrive.com"
    return PipedriveSettings(
        base_url=str(base_url).rstrip("/"), api_token=str(token),
        start_date=parse_date(lookup("pipedrive", "start_date", account), _key("pipedrive", "start_date", account)),
        rate_limit_burst=int(number("pipedrive", "rate_limit_burst", account, default=20, minimum=1)),
        reconcile_every_hours=number("pipedrive", "reconcile_every_hours", account, default=24, minimum=0),
    )


def hotprofile_settings(account: str | None = None) -> HotProfileSettings:
    key = require("hotprofile", "api_key", account, secret=True)
    url = str(require("hotprofile", "url_instance", account)).strip()
    return HotProfileSettings(
        url_instance=url, api_key=str(key),
        start_date=parse_date(lookup("hotprofile", "start_date", account), _key("hotprofile", "start_date", account)),
        lag=timedelta(minutes=number("hotprofile", "lag_minutes", account, default=10, minimum=0)),
        reconcile_every_hours=number("hotprofile", "reconcile_every_hours", account, default=24, minimum=0),
        paths={table: str(value) for key, table in PATH_KEYS.items() if (value := lookup("hotprofile", key, account))},
    )


SETTINGS = {"pipedrive": pipedrive_settings, "hotprofile": hotprofile_settings}
