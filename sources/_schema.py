"""Declared column types, enforced on every row before dlt sees it.

dlt infers a column's type from the first value it meets and sends a later value that does not fit to a
variant column (``value__v_double``) that no analyst queries. So every table declares its columns
(``{column: type}``), and ``conformer`` turns each row into exactly those types:

- a declared column's value is coerced to its type (``5`` → ``5.0`` for double, ``"12"`` → ``12`` for
  bigint, ``''`` → NULL for non-text types, lists and objects → JSON text for text columns); a value that
  cannot be coerced is stored as NULL with one warning per table and column (never a variant column);
  a scalar where an object or a list is declared (``json``) is stored as a one-element list;
- an undeclared column (a field the API added later) is loaded as **text** (objects and lists as JSON
  text), a type no later value can split;
- ``nested`` columns are left to dlt (HotProfile's lists become child tables ``<table>__<field>``).

Types: text, bigint, double, decimal, bool, timestamp (UTC, with time zone), date, json, nested.
"""
from __future__ import annotations

import json
import logging
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Mapping

log = logging.getLogger("crm_elt.schema")
UTC = timezone.utc
TYPES = ("text", "bigint", "double", "decimal", "bool", "timestamp", "date", "json", "nested")

# Every table of both sources carries these (a deleted or purged source row keeps its last values).
DELETE_COLUMNS = {"is_deleted": "bool", "deleted_at": "timestamp"}

_TRUE = {"true", "1", "yes", "t", "y"}
_FALSE = {"false", "0", "no", "f", "n"}


class _Reject(Exception):
    """The value does not fit the declared type."""


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, float) and value.is_integer():
        return str(int(value)) if abs(value) < 1e15 else repr(value)
    return str(value)


def _bigint(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, (str, Decimal)):
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise _Reject from None
        if number == number.to_integral_value():
            return int(number)
    raise _Reject


def _double(value: Any) -> float:
    if isinstance(value, bool):
        raise _Reject
    if isinstance(value, (int, float, Decimal)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip().replace(",", ""))
        except ValueError:
            raise _Reject from None
    raise _Reject


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise _Reject
    if isinstance(value, Decimal):
        return value
    if isinstance(value, (int, float, str)):
        try:
            return Decimal(str(value).strip().replace(",", ""))
        except InvalidOperation:
            raise _Reject from None
    raise _Reject


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise _Reject


def _timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, str):
        try:   # RFC3339 (v2) or "YYYY-MM-DD HH:MM:SS" (v1, UTC)
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise _Reject from None
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    raise _Reject


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10].replace("/", "-"))
        except ValueError:
            raise _Reject from None
    raise _Reject


def _json(value: Any) -> Any:
    """Objects and lists as they are; a scalar as a one-element list (dlt sends a bare scalar in a JSON
    column to a variant column, and writes a bare string as invalid JSON)."""
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, str):       # also what a warehouse returns JSON as when read back (DuckDB)
        try:
            parsed = json.loads(value)
        except ValueError:
            return [value]
        return parsed if isinstance(parsed, (dict, list)) else [parsed]
    return [value]


# type → (Python types that need no work, coercion)
_COERCE: dict[str, tuple[frozenset[type], Callable[[Any], Any]]] = {
    "text": (frozenset({str}), _text), "bigint": (frozenset({int}), _bigint),
    "double": (frozenset({float}), _double), "decimal": (frozenset({Decimal}), _decimal),
    "bool": (frozenset({bool}), _bool), "timestamp": (frozenset(), _timestamp), "date": (frozenset({date}), _date),
    "json": (frozenset({dict, list}), _json),
}


def column_hints(columns: Mapping[str, str]) -> dict[str, dict]:
    """dlt column hints of the declared columns (``nested`` ones get none: dlt makes child tables)."""
    hints: dict[str, dict] = {}
    for name, kind in columns.items():
        if kind not in TYPES:
            raise ValueError(f"column {name!r}: unknown type {kind!r}; use one of {TYPES}")
        if kind == "nested":
            continue
        hint: dict[str, Any] = {"data_type": kind, "nullable": True}
        if kind == "timestamp":
            hint["timezone"] = True
        hints[name] = hint
    return hints


def storable(value: Any) -> Any:
    """``value`` with the characters no warehouse stores as text (NUL; a lone UTF-16 surrogate, which is
    not UTF-8 at all) written as their ``\\uXXXX`` escapes: the original stays readable and recoverable.
    Returns ``value`` itself when nothing needed repair (checked with ``is``)."""
    if type(value) is str:
        if "\x00" not in value and (value.isascii() or _utf8(value)):
            return value
        return "".join(f"\\u{ord(c):04x}" if c == "\x00" or "\ud800" <= c <= "\udfff" else c for c in value)
    if type(value) is dict:
        fixed = {key: storable(item) for key, item in value.items()}
        return value if all(fixed[key] is item for key, item in value.items()) else fixed
    if type(value) is list:
        items = [storable(item) for item in value]
        return value if all(new is old for new, old in zip(items, value)) else items
    return value


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def conformer(table: str, columns: Mapping[str, str]) -> Callable[[dict], dict]:
    """The per-row function (in place; returns the row) that makes ``row`` fit ``columns``."""
    plan = {name: _COERCE[kind] for name, kind in columns.items() if kind != "nested"}
    nested = {name for name, kind in columns.items() if kind == "nested"}
    warned: set[str] = set()
    repaired: set[str] = set()

    def repair(name: str, value: Any) -> Any:
        fixed = storable(value)
        if fixed is not value and name not in repaired:
            repaired.add(name)
            log.warning("%s.%s: a value held characters no warehouse stores as text (NUL or a lone surrogate); "
                        "stored as \\uXXXX escapes (so is every such value of this column)", table, name)
        return fixed

    def reject(name: str, value: Any, kind: str) -> None:
        if name not in warned:
            warned.add(name)
            log.warning("%s.%s: a %s value does not fit the declared type %s; stored as NULL",
                        table, name, type(value).__name__, kind)

    def conform(row: dict) -> dict:
        for name, value in row.items():
            if value is None:
                continue
            if type(value) in (str, dict, list):
                value = row[name] = repair(name, value)
            rule = plan.get(name)
            if rule is None:
                if name in nested or name.startswith("_dlt") or type(value) is str:
                    continue
                row[name] = _text(value)                      # undeclared: text, whatever comes later
                continue
            fits, coerce = rule
            if type(value) in fits:
                continue
            if value == "" and str not in fits:
                row[name] = None
                continue
            try:
                row[name] = coerce(value)
            except _Reject:
                reject(name, value, columns[name])
                row[name] = None
        return row

    return conform
