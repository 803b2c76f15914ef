"""The CRMs crm-elt replicates, listed once: ``pipelines/`` (CLI, runs, status, demo, catalog) iterates
``contracts()``. Adding a CRM = a package with a ``CONTRACT`` (see ``sources/pipedrive/contract.py``) plus
one name in ``PACKAGES``."""
from __future__ import annotations

import importlib
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Callable, Mapping

PACKAGES = ("pipedrive", "hotprofile")


@dataclass(frozen=True)
class SourceContract:
    name: str                                           # dataset and config section: [sources.<name>]
    tables: Mapping[str, Any]                           # the table registry
    settings: Callable[[str | None], Any]               # account → settings from dlt config (ConfigError: one line)
    build: Callable[..., Any]                           # (settings, ctx, tables, client) → the dlt source
    catalog: Callable[[], list[tuple[str, ...]]]        # (table, endpoint, key, mode, deletes) rows
    demo: Callable[[dict[str, int]], AbstractContextManager]   # sizes → a running sandbox, yields settings
    client: Callable[[Any], Any]                        # settings → the run's ApiClient (request/token stats)


def contracts() -> dict[str, SourceContract]:
    """Every source, by name, in ``PACKAGES`` order (imported on first use: no import-time work)."""
    found = {}
    for package in PACKAGES:
        contract = importlib.import_module(f"sources.{package}.contract").CONTRACT
        found[contract.name] = contract
    return found
