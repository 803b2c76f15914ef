"""Reading back what the warehouse holds, so deletes can be marked without blanking rows.

dlt's merge replaces whole rows: a bare ``{"id": X, "is_deleted": true}`` would blank every other column.
A deleted or purged source row is therefore re-emitted **as the warehouse holds it** (parent row plus its
direct child-table lists) with ``is_deleted = true`` and ``deleted_at``. The warehouse is read through the
running pipeline's own ``sql_client`` (any SQL destination), inside the resource, so the marks load in
the same package as the run's other rows and commit with its state.
"""
from __future__ import annotations

import logging
import weakref
from datetime import datetime
from typing import Any, Iterable, Iterator

log = logging.getLogger("crm_elt.warehouse")

CHUNK = 500
DLT_PREFIX = "_dlt_"


def _pipeline() -> Any:
    import dlt

    return dlt.current.pipeline()


_clients: "weakref.WeakKeyDictionary[Any, tuple[tuple, Any]]" = weakref.WeakKeyDictionary()


def _sql_client(pipeline: Any) -> Any | None:
    """The pipeline's SQL client, built once per pipeline and dataset (building one resolves dlt's whole
    destination configuration: ~50 ms); each use opens its own connection."""
    key = (pipeline.dataset_name, getattr(pipeline.destination, "destination_name", None))
    cached = _clients.get(pipeline)
    if cached and cached[0] == key:
        return cached[1]
    try:
        client = pipeline.sql_client()
    except Exception as exc:   # no destination configured, or a destination without SQL
        log.warning("cannot read the destination (%s); deletes are not detected", type(exc).__name__)
        return None
    _clients[pipeline] = (key, client)
    return client


def _literal(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        return "'" + str(value).replace("'", "''") + "'"
    return str(int(value))


def _select(client: Any, sql: str) -> list[tuple] | None:
    """Rows of ``sql``; None when the table (or a column) does not exist yet."""
    try:
        return client.execute_sql(sql) or []
    except Exception:
        return None


def stored_keys(table: str, key: str = "id", where: tuple[str, Iterable[Any]] | None = None
                ) -> tuple[set[Any], set[Any]]:
    """(keys stored as live, keys stored as deleted) of ``table``; empty when it does not exist yet.

    ``where=(column, values)`` restricts the read to rows whose ``column`` is in ``values``.
    """
    live: set[Any] = set()
    dead: set[Any] = set()
    values = sorted(set(where[1]), key=str) if where else [None]
    if where and not values:
        return live, dead
    client = _sql_client(_pipeline())
    if client is None:
        return live, dead
    with client:
        if not client.has_dataset():
            return live, dead
        name = client.make_qualified_table_name(table)
        flag, col = client.escape_column_name("is_deleted"), client.escape_column_name(key)
        for start in range(0, len(values), CHUNK):
            cond = ""
            if where:
                chunk = values[start:start + CHUNK]
                cond = f" WHERE {client.escape_column_name(where[0])} IN ({','.join(map(_literal, chunk))})"
            rows = _select(client, f"SELECT {col}, {flag} FROM {name}{cond}")
            if rows is None:        # a table loaded before is_deleted existed, or no table at all
                rows = [(row[0], None) for row in _select(client, f"SELECT {col} FROM {name}{cond}") or ()]
            for value, deleted in rows:
                (dead if deleted else live).add(value)
    return live, dead


def _child_tables(pipeline: Any, table: str) -> list[tuple[str, str]]:
    """(child table, list field) of the direct children of ``table`` in the pipeline schema."""
    try:
        schema = pipeline.default_schema
    except Exception:
        return []
    prefix = table + "__"
    return [(name, name[len(prefix):]) for name, info in schema.tables.items()
            if info.get("parent") == table and name.startswith(prefix)]


def stored_rows(table: str, values: Iterable[Any], deleted_at: datetime, *, column: str = "id",
                live_only: bool = True) -> Iterator[list[dict]]:
    """The warehouse rows whose ``column`` is in ``values`` (with their lists), marked deleted, in chunks.

    ``live_only``: skip rows already marked deleted (their ``deleted_at`` stays the first one).
    """
    ordered = sorted(set(values), key=str)
    if not ordered:
        return
    pipeline = _pipeline()
    client = _sql_client(pipeline)
    if client is None:
        return
    children = _child_tables(pipeline, table)
    for start in range(0, len(ordered), CHUNK):
        records = _read_rows(client, table, children, column, ordered[start:start + CHUNK], live_only)
        if records is None:          # no such table (yet)
            return
        out = []
        for record in records:
            row = {k: v for k, v in record.items() if not k.startswith(DLT_PREFIX)}
            row["is_deleted"] = True
            row["deleted_at"] = deleted_at
            out.append(row)
        if out:
            yield out


def _read_rows(client: Any, table: str, children: list[tuple[str, str]], column: str, values: list[Any],
               live_only: bool) -> list[dict] | None:
    """One chunk of stored rows with their lists; the connection is closed before the caller yields (a
    generator suspended inside ``with client`` would hold the file open under round-robin extraction)."""
    with client:
        if not client.has_dataset():
            return None
        parent = client.make_qualified_table_name(table)
        col, flag = client.escape_column_name(column), client.escape_column_name("is_deleted")
        only_live = f" AND ({flag} IS NULL OR NOT {flag})" if live_only else ""
        sql = f"SELECT * FROM {parent} WHERE {col} IN ({','.join(map(_literal, values))}){only_live}"
        try:
            with client.execute_query(sql) as cur:
                names = [d[0] for d in cur.description]
                records = [dict(zip(names, row)) for row in cur.fetchall()]
        except Exception:
            return None
        _attach_lists(client, children, records)
        return records


def _attach_lists(client: Any, children: list[tuple[str, str]], records: list[dict]) -> None:
    """Put each record's child-table rows back as the list field they came from."""
    by_dlt_id = {record.get("_dlt_id"): record for record in records}
    keys = ",".join(_literal(str(key)) for key in by_dlt_id if key)
    for child, field in children if keys else ():
        sql = (f"SELECT * FROM {client.make_qualified_table_name(child)} WHERE _dlt_parent_id IN ({keys}) "
               "ORDER BY _dlt_parent_id, _dlt_list_idx")
        try:
            with client.execute_query(sql) as cur:
                names = [d[0] for d in cur.description]
                items = cur.fetchall()
        except Exception:   # a child table in the schema but never created
            continue
        data = [n for n in names if not n.startswith(DLT_PREFIX)]
        scalar = data == ["value"]
        for values in items:
            item = dict(zip(names, values))
            owner = by_dlt_id.get(item["_dlt_parent_id"])
            if owner is None:
                continue
            # the parent may hold a NULL column of the same name (the field was scalar in some rows)
            if not isinstance(owner.get(field), list):
                owner[field] = []
            owner[field].append(item["value"] if scalar else {n: item[n] for n in data if item[n] is not None})
