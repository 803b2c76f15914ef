"""Opt-in history tables (``history_tables`` of a source): ``<table>_history`` keeps every version of a row.

Each listed table's resource feeds a transformer that loads the same rows, unchanged, into
``<table>_history`` with dlt's ``scd2`` merge strategy: a version is valid from ``_dlt_valid_from`` to
``_dlt_valid_to`` (NULL = current). dlt identifies a version by its content hash (``_dlt_id``), so a row
loaded again unchanged makes no new version. Two conditions fit scd2 to incremental loads
(``dlt.destinations.sql_jobs.SqlMergeFollowupJob``: ``gen_scd2_sql``, ``gen_merge_partition_clauses``,
``gen_absent_rows_cond``):

- ``destination_scope``: only the current versions of rows *in the load* (their key in the staging table)
  may be retired. dlt's plain scd2 retires every current version absent from the load, which is right
  for a full extract only; these loads carry changed rows.
- ``source_filter``: only live staged rows (``is_deleted`` not true) become new versions. A row that
  arrives deleted (listed deleted, or re-emitted from the warehouse marked deleted) is in the scope, its
  current version is retired, and nothing replaces it: a delete closes the current version.

Nested lists (HotProfile) go to ``<table>_history__<list>`` rows per version (their ``_dlt_parent_id`` is
the version's ``_dlt_id``); dlt inserts them for new versions only.
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator, Mapping

SUFFIX = "_history"
LIVE = "is_deleted IS NOT TRUE"        # null-safe: a row without the flag counts as live
# hints that belong to the table's own merge (by key), not to a history of versions
_MERGE_ONLY = ("primary_key", "merge_key", "unique", "dedup_sort", "hard_delete", "row_key")


def history_name(table: str) -> str:
    return f"{table}{SUFFIX}"


def history_disposition(key: str = "id") -> dict[str, str]:
    """dlt's scd2 write disposition, scoped to the keys in the load; deleted rows insert no version."""
    return {"disposition": "merge", "strategy": "scd2", "source_filter": LIVE,
            "destination_scope": f"{{table}}.{key} IN (SELECT {key} FROM {{staging_table}})"}


def history_columns(columns: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The table's column hints (types) without the hints of its keyed merge."""
    if columns is None:
        return None
    return {name: {hint: value for hint, value in column.items() if hint not in _MERGE_ONLY}
            for name, column in columns.items()}


def history_resource(resource: Any, columns: Mapping[str, Any] | None = None,
                     nested_hints: Mapping[str, Any] | None = None, key: str = "id") -> Any:
    """``<resource>_history``: the rows ``resource`` yields, as versions (see the module's docstring).

    Hints the resource's items carry (a page's extra columns, a file format) reach the history table too:
    dlt passes an item's meta on through a transformer. A row yielded twice in one load with the same
    content (the read and the id scan of one run) is passed on once: scd2 would insert both copies.
    """
    import dlt

    from sources._incremental import row_hash

    passed: dict[Any, str] = {}             # key → content hash of the version passed on in this load
    load: list[str | None] = [None]

    def versions(items: Any) -> Iterator[Any]:
        current = _load_id()
        if current != load[0]:              # an extraction retried with the same source is a new load
            load[0] = current
            passed.clear()
        rows = items if isinstance(items, list) else [items]
        fresh = []
        for row in rows:
            digest = row_hash(row)
            if passed.get(row.get(key)) != digest:
                passed[row.get(key)] = digest
                fresh.append(row)
        if fresh:
            yield fresh

    name = history_name(resource.name)
    versions.__name__ = versions.__qualname__ = name
    return dlt.transformer(versions, data_from=resource, name=name, write_disposition=history_disposition(key),
                           columns=history_columns(columns), nested_hints=dict(nested_hints) if nested_hints else None)


def _load_id() -> str | None:
    """The load package being extracted (None outside an extraction: a resource iterated directly)."""
    from dlt.common.storages.load_package import load_package_state

    try:
        return load_package_state()["load_id"]
    except Exception:
        return None


def with_history(tables: list[str], resources: Mapping[str, Any]) -> list[str]:
    """``tables`` and the history resources of those among them that have one (a run that selects some
    tables, or a checkpoint segment, loads their histories too)."""
    return [*tables, *(history_name(table) for table in tables if history_name(table) in resources)]


def configured_history(source: str, valid: Iterable[str]) -> tuple[str, ...]:
    """The history tables configured for ``source``: its own key and those of the accounts it lists. Asset
    specs (Dagster, built without credentials) include their ``<table>_history`` tables, which a run of
    any account may load."""
    import json

    import dlt

    from sources._config import table_list

    valid = list(valid)
    accounts = dlt.config.get(f"sources.{source}.accounts")
    if isinstance(accounts, str):
        try:
            accounts = json.loads(accounts) if accounts.strip() else []
        except ValueError:
            accounts = []                   # a malformed list: the accounts check says so
    sections = [source, *(f"{source}.{account}" for account in accounts or () if isinstance(account, str))]
    names: dict[str, None] = {}
    for section in sections:
        value = dlt.config.get(f"sources.{section}.history_tables")
        names.update(dict.fromkeys(table_list(value, "history_tables", valid, source=section)))
    return tuple(names)
