"""Analytics views: ``sources/<source>/views/<view>.sql``, written once (DuckDB dialect, tables named without
their dataset), transpiled with sqlglot to the destination's dialect, their tables qualified with the
source's dataset, and created in that dataset after each successful run (``crm-elt views`` on demand).

A view that cannot be created (a table it reads is not loaded yet, a dialect the SQL does not fit) is a
warning: the load it follows has already succeeded.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

log = logging.getLogger("crm_elt.views")
FINGERPRINT = "_crm_elt_views"     # a one-row view: what the views were last created from


@dataclass(frozen=True)
class View:
    name: str
    sql: str
    reads: frozenset[str]          # tables and views of the dataset it selects from


@dataclass(frozen=True)
class Outcome:
    view: str
    error: str | None = None       # first line of the warehouse's answer when it was not created
    missing: tuple[str, ...] = ()  # tables it reads that are not loaded yet (not created, not an error)


@lru_cache(maxsize=None)
def source_views(source: str) -> tuple[View, ...]:
    """The source's views, each after the views it reads."""
    import sqlglot
    from sqlglot import exp

    folder = resources.files(f"sources.{source}") / "views"
    found = {}
    if folder.is_dir():
        for item in sorted(folder.iterdir(), key=lambda entry: entry.name):
            if item.name.endswith(".sql"):
                sql = item.read_text(encoding="utf-8")
                tree = sqlglot.parse_one(sql, read="duckdb")
                ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
                reads = frozenset(t.name for t in tree.find_all(exp.Table) if t.name not in ctes)
                found[item.name.removesuffix(".sql")] = View(item.name.removesuffix(".sql"), sql, reads)
    ordered: list[View] = []

    def place(view: View, path: tuple[str, ...] = ()) -> None:
        if view in ordered:
            return
        if view.name in path:
            raise ValueError(f"views read each other in a circle: {' → '.join((*path, view.name))}")
        for name in sorted(view.reads & found.keys()):
            place(found[name], (*path, view.name))
        ordered.append(view)

    for view in found.values():
        place(view)
    return tuple(ordered)


def render(view: View, client: Any) -> str:
    """``CREATE VIEW`` for ``client``'s destination and dataset."""
    dialect = client.capabilities.sqlglot_dialect or "duckdb"
    return _render(view, dialect, tuple(sorted(view.reads)), tuple(client.make_qualified_table_name(name)
                                                                   for name in sorted(view.reads)),
                   client.make_qualified_table_name(view.name))


@lru_cache(maxsize=256)
def _render(view: View, dialect: str, names: tuple[str, ...], qualified: tuple[str, ...], target: str) -> str:
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(view.sql, read="duckdb")
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    where = dict(zip(names, qualified))
    for table in list(tree.find_all(exp.Table)):
        if table.name in ctes or table.name not in where:
            continue
        full = exp.to_table(where[table.name], dialect=dialect)
        for part in ("this", "db", "catalog"):
            table.set(part, full.args.get(part))
    return f"CREATE VIEW {target} AS\n{tree.sql(dialect=dialect, pretty=True)}"


def create_views(pipeline: Any, source: str, warn: bool = True, force: bool = False) -> list[Outcome]:
    """Drop and recreate every view of ``source`` in ``pipeline``'s dataset; never raises. Views that
    could not be created are returned with their error (and logged as warnings, one line each).

    Unless ``force``d, nothing is done when neither the views nor the dataset's schema changed since the
    last time (a fingerprint kept in the dataset, ``_crm_elt_views``): most runs only add rows."""
    views = source_views(source)
    # tables the dataset has (None: unknown, try every view); a run of some tables only skips the rest
    schema = pipeline.default_schema if pipeline.default_schema_name else None
    available = set(schema.data_table_names()) if schema else None
    outcomes: list[Outcome] = []
    try:
        with pipeline.sql_client() as client:
            marker = client.make_qualified_table_name(FINGERPRINT)
            fingerprint = _fingerprint(views, client, schema)
            if not force and fingerprint and _stored_fingerprint(client, marker) == fingerprint:
                return [Outcome(view.name) for view in views]
            _quietly(client, f"DROP VIEW IF EXISTS {marker}")
            for view in reversed(views):            # a view before the views it reads
                _quietly(client, f"DROP VIEW IF EXISTS {client.make_qualified_table_name(view.name)}")
            for view in views:
                missing = tuple(sorted(view.reads - available)) if available is not None else ()
                if missing:
                    outcomes.append(Outcome(view.name, missing=missing))
                    continue
                error = _quietly(client, render(view, client))
                outcomes.append(Outcome(view.name, error))
                if available is not None and not error:
                    available.add(view.name)
                if error and warn:
                    log.warning("view %s.%s not created: %s", pipeline.dataset_name, view.name, error)
            if fingerprint and not any(outcome.error for outcome in outcomes):
                _quietly(client, f"CREATE VIEW {marker} AS SELECT '{fingerprint}' AS fingerprint")
    except Exception as exc:                        # the warehouse went away after the load
        error = _first_line(exc)
        if warn:
            log.warning("views of %s not created: %s", pipeline.dataset_name, error)
        outcomes = [Outcome(view.name, error) for view in views]
    return outcomes


def _fingerprint(views: tuple[View, ...], client: Any, schema: Any) -> str | None:
    """What the views depend on: their SQL as created here, and the dataset's tables and columns."""
    import hashlib

    if schema is None:
        return None
    text = "\n".join([schema.version_hash, *(render(view, client) for view in views)])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _stored_fingerprint(client: Any, marker: str) -> str | None:
    try:
        rows = client.execute_sql(f"SELECT fingerprint FROM {marker}")
        return rows[0][0] if rows else None
    except Exception:
        return None


def _quietly(client: Any, sql: str) -> str | None:
    try:
        client.execute_sql(sql)
        return None
    except Exception as exc:
        return _first_line(exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
