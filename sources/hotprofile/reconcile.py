"""Deletes and merges: HotProfile has no delete feed, and a merged client simply vanishes.

With ``RunContext.reconcile`` each table first scans every id (no date filter, largest page). Then:

- ids the warehouse holds as live but the scan (and this run's incremental pass) did not return are
  re-emitted **as they are in the warehouse** (parent row plus its child-table lists) with
  ``is_deleted = true`` and ``deleted_at`` = the run's start. dlt's merge replaces whole rows, so a bare
  ``{"id": X, "is_deleted": true}`` would blank every other column; re-emitting the stored row keeps the
  last known data of deleted and merged-away records queryable.
- rows the warehouse holds as deleted but the scan did return (a false positive of the business-card
  scan, which has no keyset paging, or a record restored in HotProfile) are loaded again from the scan
  as live rows.

The warehouse is read through the pipeline's own ``sql_client`` (any SQL destination). Only direct child
tables are rebuilt (HotProfile lists are flat).
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Iterable, Iterator

log = logging.getLogger("crm_elt.hotprofile")

CHUNK = 500
DLT_PREFIX = "_dlt_"


def _pipeline() -> Any:
    import dlt

    return dlt.current.pipeline()


def _sql_client(pipeline: Any) -> Any | None:
    try:
        return pipeline.sql_client()
    except Exception as exc:   # no destination configured, or a destination without SQL
        log.warning("reconcile: cannot read the destination (%s); deletes are not detected", type(exc).__name__)
        return None


def warehouse_ids(table: str) -> tuple[set[int], set[int]]:
    """(live ids, ids marked deleted) of ``table`` in the destination; empty when it does not exist yet."""
    from dlt.destinations.exceptions import DatabaseUndefinedRelation

    pipeline = _pipeline()
    client = _sql_client(pipeline)
    if client is None:
        return set(), set()
    live: set[int] = set()
    dead: set[int] = set()
    with client:
        if not client.has_dataset():
            return live, dead
        name = client.make_qualified_table_name(table)
        flag = client.escape_column_name("is_deleted")
        try:
            rows = client.execute_sql(f"SELECT id, {flag} FROM {name}")
        except DatabaseUndefinedRelation:
            return live, dead
        except Exception:   # a table loaded before is_deleted existed
            try:
                rows = [(row[0], None) for row in client.execute_sql(f"SELECT id FROM {name}")]
            except DatabaseUndefinedRelation:
                return live, dead
    for row_id, deleted in rows or ():
        (dead if deleted else live).add(int(row_id))
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


def stored_rows(table: str, ids: Iterable[int], deleted_at: datetime) -> Iterator[list[dict]]:
    """The warehouse rows of ``ids`` (with their lists), marked deleted, in chunks."""
    pipeline = _pipeline()
    client = _sql_client(pipeline)
    if client is None:
        return
    children = _child_tables(pipeline, table)
    ordered = sorted(ids)
    with client:
        parent = client.make_qualified_table_name(table)
        for start in range(0, len(ordered), CHUNK):
            chunk = ordered[start:start + CHUNK]
            with client.execute_query(f"SELECT * FROM {parent} WHERE id IN ({','.join(map(str, chunk))})") as cur:
                names = [d[0] for d in cur.description]
                records = [dict(zip(names, values)) for values in cur.fetchall()]
            by_dlt_id = {record.get("_dlt_id"): record for record in records}
            keys = ",".join("'" + str(key).replace("'", "''") + "'" for key in by_dlt_id if key)
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
                    if owner is not None:
                        owner.setdefault(field, []).append(
                            item["value"] if scalar else {n: item[n] for n in data if item[n] is not None})
            out = []
            for record in records:
                row = {k: v for k, v in record.items() if not k.startswith(DLT_PREFIX)}
                row["is_deleted"] = True
                row["deleted_at"] = deleted_at
                out.append(row)
            if out:
                yield out
