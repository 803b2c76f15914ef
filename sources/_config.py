"""Resolve source settings the dlt way: .dlt/*.toml or env vars (SOURCES__PIPEDRIVE__API_TOKEN, ...).

``account`` reads ``[sources.<source>.<account>]`` first, then falls back to ``[sources.<source>]``. Every
problem is one ``ConfigError`` line naming the key (and its environment variable) to fix.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import dlt
import pendulum

from sources._errors import ConfigError
from sources._redact import register_secret


def config_key(source: str, name: str, account: str | None) -> str:
    return f"sources.{source}.{account}.{name}" if account else f"sources.{source}.{name}"


def _env(key: str) -> str:
    return key.upper().replace(".", "__")


def lookup(source: str, name: str, account: str | None = None, secret: bool = False) -> Any:
    provider = dlt.secrets if secret else dlt.config
    for candidate in ([account, None] if account else [None]):
        value = provider.get(config_key(source, name, candidate))
        if value not in (None, ""):
            return value
    return None


def require(source: str, name: str, account: str | None, secret: bool = False) -> Any:
    value = lookup(source, name, account, secret)
    if value is None:
        key = config_key(source, name, account)
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
        raise ConfigError(f"{config_key(source, name, account)}: {value!r} is not a number >= {minimum:g}")
    return parsed
