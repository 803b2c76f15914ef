"""Checks of the settings dlt injects into a source (``.dlt/*.toml`` or ``SOURCES__<SOURCE>__*`` variables).

A source built as ``<source>_source.clone(name="eu", section="<source>")`` reads ``[sources.<source>.eu]``
first, then ``[sources.<source>]`` (dlt's own section fallback). Every problem is one ``ConfigError`` line
naming the key (and its environment variable) that was looked up first.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable

import pendulum

from sources._errors import ConfigError
from sources._redact import register_secret


def config_key(name: str, source: str | None = None) -> str:
    """``name``'s key in the source being built: ``sources.pipedrive.api_token``, or
    ``sources.pipedrive.eu.api_token`` inside a source cloned with ``name="eu"``."""
    from dlt.common.configuration.container import Container
    from dlt.common.configuration.specs.config_section_context import ConfigSectionContext

    sections = tuple(Container()[ConfigSectionContext].sections or ())
    if len(sections) == 3 and sections[0] == "sources":
        _, section, clone = sections
        return f"sources.{section}.{name}" if clone == section else f"sources.{section}.{clone}.{name}"
    return f"sources.{source}.{name}" if source else name


def env_var(key: str) -> str:
    return key.upper().replace(".", "__")


def required(value: Any, name: str, secret: bool = False, where_to: bool = False) -> str:
    """A value that must be set. ``secret`` (a credential) and ``where_to`` (the host it is sent to) must
    come from the source's own keys, never from a key every source shares."""
    if value is None or str(value).strip() == "":
        key = config_key(name)
        where = ".dlt/secrets.toml" if secret else ".dlt/config.toml"
        raise ConfigError(f"missing {key}: set it in {where} or the environment variable {env_var(key)}")
    value = str(value).strip()          # a pasted token often carries a trailing newline
    if secret:
        register_secret(value)
    if secret or where_to:
        refuse_shared(value, name, secret)
    return value


def refuse_shared(value: str, name: str, secret: bool = False) -> None:
    """dlt falls back from ``sources.<source>.<name>`` to keys every source shares (``sources.<name>``,
    ``<name>``: e.g. an ``API_TOKEN`` variable set for another tool). A credential found only there is
    refused rather than sent to this API."""
    import dlt

    provider = dlt.secrets if secret else dlt.config
    key = config_key(name)
    own = {key, ".".join(key.split(".")[:2] + [name])}            # the account's key, the source's key
    if any(_clean(provider.get(candidate)) == value for candidate in own):
        return
    if any(_clean(provider.get(shared)) == value for shared in (f"sources.{name}", name)):
        raise ConfigError(f"{name} was found only under a key every source shares ({name.upper()} or "
                          f"sources.{name}); set {key} (environment variable {env_var(key)})")


def _clean(value: Any) -> str | None:
    return None if value is None else str(value).strip()


def parse_date(value: Any, name: str) -> datetime | None:
    """ISO date or datetime (naive = UTC) → aware UTC datetime."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    try:
        parsed = pendulum.parse(str(value), tz="UTC")
    except Exception:
        parsed = None
    if not isinstance(parsed, datetime):
        raise ConfigError(f"{config_key(name)}: {value!r} is not an ISO date or datetime (e.g. 2024-01-31 or "
                          "2024-01-31T12:00:00Z)")
    return datetime.fromtimestamp(parsed.timestamp(), tz=timezone.utc)


def at_least(value: Any, name: str, minimum: float) -> float:
    try:
        parsed = float(value)
    except (TypeError, ValueError):
        parsed = minimum - 1
    if parsed < minimum:
        raise ConfigError(f"{config_key(name)}: {value!r} is not a number >= {minimum:g}")
    return parsed


def table_list(value: Any, name: str, valid: Iterable[str], source: str | None = None) -> tuple[str, ...]:
    """A setting that lists tables: a list (TOML), a JSON array or comma-separated names (an environment
    variable: ``deals,persons``); unset or empty: ``()``. A name not in ``valid`` is one ``ConfigError``
    naming the key and the valid names."""
    import json

    valid = list(valid)
    if value is None:
        return ()
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):            # dlt hands a TOML list to a str-typed argument as JSON
            try:
                value = json.loads(text)
            except ValueError:
                raise ConfigError(f"{config_key(name, source)}: {text!r} is not a list of table names "
                                  '(e.g. ["deals", "persons"] or deals,persons)') from None
        else:
            value = text.split(",")
    if not isinstance(value, (list, tuple, set, frozenset)) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{config_key(name, source)}: {value!r} is not a list of table names "
                          '(e.g. ["deals", "persons"] or deals,persons)')
    names = tuple(dict.fromkeys(item.strip() for item in value if item.strip()))
    unknown = [item for item in names if item not in valid]
    if unknown:
        raise ConfigError(f"{config_key(name, source)}: unknown table(s) {', '.join(unknown)}; "
                          f"choose from {', '.join(valid)}")
    return names


def token_caps(per_run: Any, per_day: Any) -> Any:
    """``max_tokens_per_run`` / ``max_tokens_per_day`` (unset or empty: no cap) → ``TokenCaps``."""
    from sources._caps import TokenCaps

    def cap(value: Any, name: str) -> int | None:
        return None if value in (None, "") else int(at_least(value, name, 1))
    return TokenCaps(cap(per_run, "max_tokens_per_run"), cap(per_day, "max_tokens_per_day"))


def one_line(exc: Exception, source: str, account: str | None) -> ConfigError:
    """dlt's errors about injected values (a value that cannot be coerced to its type) → one line."""
    field = getattr(exc, "field_name", None)
    if field is None:
        return ConfigError(str(exc).strip().splitlines()[0])
    key = f"sources.{source}.{account}.{field}" if account else f"sources.{source}.{field}"
    hint = getattr(getattr(exc, "hint", None), "__name__", "the documented type")
    return ConfigError(f"{key}: {getattr(exc, 'field_value', None)!r} is not a valid {hint}")
