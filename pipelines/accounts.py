"""The accounts (companies, tenants) of a source: ``sources.<source>.accounts`` in dlt config.

    [sources.pipedrive]
    accounts = ["eu", "us"]          # or SOURCES__PIPEDRIVE__ACCOUNTS='["eu", "us"]'

Each account reads ``[sources.<source>.<account>]`` (falling back to ``[sources.<source>]``) and has its own
dataset and state. Without the key a source has one account, ``None``: the settings of ``[sources.<source>]``.
Orchestrators partition by account; ``partition_key`` / ``account_of`` convert (``None`` ↔ ``"default"``).
"""
from __future__ import annotations

import os
import re

import dlt
from dlt.common.configuration.exceptions import ConfigValueCannotBeCoercedException

from sources._config import env_var
from sources._errors import ConfigError

DEFAULT_PARTITION = "default"
NAME = re.compile(r"^[a-z0-9_]+$")


def configured_accounts(source: str) -> list[str | None]:
    """``sources.<source>.accounts`` as a list of names, or ``[None]`` when the key is absent (or empty)."""
    key = f"sources.{source}.accounts"
    env = env_var(key)
    if dlt.config.get(key) in (None, ""):
        return [None]
    try:
        names = dlt.config.get(key, list)
    except ConfigValueCannotBeCoercedException:
        names = None
    if not isinstance(names, list) or not names:
        raise ConfigError(f"{key} must be a non-empty list of account names, e.g. accounts = [\"eu\", \"us\"] "
                          f"in .dlt/config.toml or {env}='[\"eu\", \"us\"]'")
    for name in names:
        if not isinstance(name, str) or not NAME.match(name) or name in (DEFAULT_PARTITION, "accounts"):
            raise ConfigError(f"{key}: {name!r} is not an account name (lowercase letters, digits and _; "
                              f"not {DEFAULT_PARTITION!r} or 'accounts')")
    if len(set(names)) != len(names):
        raise ConfigError(f"{key}: an account is listed twice in {names}")
    return list(names)


def sections(source: str) -> list[str]:
    """Account sections found in the configuration: ``[sources.<source>.<account>]`` tables of the TOML
    files and ``SOURCES__<SOURCE>__<ACCOUNT>__<KEY>`` variables (``<KEY>`` a setting of the source)."""
    import inspect

    from dlt.common.configuration.container import Container
    from dlt.common.configuration.specs import PluggableRunContext

    from sources import contracts

    keys = set(inspect.signature(contracts()[source].source).parameters)
    found: set[str] = set()
    for provider in Container()[PluggableRunContext].providers.providers:
        document = getattr(provider, "_config_doc", None)
        table = ((document or {}).get("sources") or {}).get(source) or {}
        found |= {name for name, value in table.items() if isinstance(value, dict) and name not in keys}
    prefix = f"SOURCES__{source.upper()}__"
    for variable in os.environ:
        parts = variable[len(prefix):].split("__") if variable.startswith(prefix) else []
        if len(parts) == 2 and parts[1].lower() in keys:
            found.add(parts[0].lower())
    return sorted(found)


def check_account(source: str, account: str | None) -> None:
    """An account that is neither listed in ``sources.<source>.accounts`` nor has a section of its own is a
    typo: loading it would copy the default company into a new dataset."""
    if account is None:
        return
    known = sorted({name for name in configured_accounts(source) if name} | set(sections(source)))
    if account not in known:
        raise ConfigError(f"no account {account!r} for {source}: add a [sources.{source}.{account}] section "
                          f"(configured: {', '.join(known) or 'none'})")


def partition_key(account: str | None) -> str:
    return account or DEFAULT_PARTITION


def account_of(partition: str) -> str | None:
    return None if partition == DEFAULT_PARTITION else partition
