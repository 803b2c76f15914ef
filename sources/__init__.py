"""The CRMs crm-elt replicates, listed once: ``pipelines/`` (CLI, runs, status, demo, catalog, Dagster)
iterates ``contracts()``. Adding a CRM = a package with a ``CONTRACT`` (see ``sources/pipedrive/contract.py``)
plus one name in ``PACKAGES``."""
from __future__ import annotations

import importlib
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Callable, Mapping

PACKAGES = ("pipedrive", "hotprofile")


@dataclass(frozen=True)
class SourceContract:
    name: str                                           # dataset, dlt source name and config section
    tables: Mapping[str, Any]                           # the table registry
    source: Any                                         # the @dlt.source function (settings injected by dlt)
    catalog: Callable[[], list[tuple[str, ...]]]        # (table, endpoint, key, mode, deletes) rows
    demo: Callable[..., AbstractContextManager]         # (sizes, port=0) → a running sandbox, yields settings
    offline: Any                                        # settings that reach no API (asset specs)
    example: str = ""                                   # a query to try after the demo
    token_costs: bool = False                           # requests cost tokens of a daily budget (shown as tokens=)
    plan: Callable[..., list] | None = None             # (client, ctx, state, stored rows, tables) → Estimates


def settings_env(name: str, settings: Any) -> dict[str, str]:
    """The ``SOURCES__<NAME>__*`` variables that reproduce ``settings`` (its values that differ from the
    defaults): how `crm-elt sandbox` tells users to point a run at an emulator."""
    import dataclasses

    env = {}
    for field in dataclasses.fields(settings):
        value = getattr(settings, field.name)
        if isinstance(value, (str, int, float)) and value != field.default:
            env[f"SOURCES__{name.upper()}__{field.name.upper()}"] = str(value)
    return env


def contracts() -> dict[str, SourceContract]:
    """Every source, by name, in ``PACKAGES`` order (imported on first use: no import-time work)."""
    found = {}
    for package in PACKAGES:
        contract = importlib.import_module(f"sources.{package}.contract").CONTRACT
        found[contract.name] = contract
    return found


def account_source(source: str, account: str | None = None, **arguments: Any) -> Any:
    """The dlt source of one company: ``[sources.<source>.<account>]`` first, then ``[sources.<source>]``
    (dlt's ``clone(name=account, section=source)``). Its name stays ``source``, so its state and schema
    are the same whichever way it is run (CLI, Dagster, Airflow). A value dlt cannot coerce to its type is
    one ``ConfigError`` line naming the key."""
    from dlt.common.configuration.exceptions import ConfigurationValueError

    from sources._config import one_line

    factory = contracts()[source].source
    if account:
        factory = factory.clone(name=account, section=source)
    if arguments.get("settings") is not None:
        # checked settings given: nothing is read from config (a blank or bad key cannot get in the way)
        arguments = {**_defaults(factory), **arguments}
    try:
        built = factory(**arguments)
    except ConfigurationValueError as exc:
        raise one_line(exc, source, account) from None
    return built.clone(with_name=source) if account else built


def _defaults(factory: Any) -> dict[str, Any]:
    import inspect

    return {name: parameter.default for name, parameter in inspect.signature(factory).parameters.items()
            if parameter.default is not inspect.Parameter.empty}


def spec_source(source: str) -> Any:
    """The source's resources without credentials or a request: for asset specs (Dagster). The configured
    ``history_tables`` (the only setting read) add their ``<table>_history`` resources."""
    from dataclasses import replace

    from sources._history import configured_history

    contract = contracts()[source]
    offline = replace(contract.offline, history_tables=configured_history(source, contract.tables))
    return account_source(source, settings=offline)
