"""HotProfile rows → warehouse rows: dlt column hints plus the little per-row work hints cannot do.

Per row (kept light: 50k leads): Japan-time stamps → UTC, ``yyyy/mm/dd`` → date, ``''`` → NULL in
numeric columns, non-string codes → text, check boxes → ``<flag>_bool``, ``is_deleted = false``.
Everything else (bigint, decimal, text coercion, child tables for lists) is dlt's normalizer, driven by
the hints from ``columns`` / ``nested_hints``.

Warehouse conventions (document for users):
- ``<name>_flg`` keeps HotProfile's rendering ("✓" checked, "ー" unchecked); ``<name>_flg_bool`` is
  true/false (NULL when the API sent nothing).
- lists become dlt child tables ``<table>__<field>`` (``value`` column, ``_dlt_parent_id`` →
  ``<table>._dlt_id``, order in ``_dlt_list_idx``); custom items: ``<table>__items`` (``label``, ``value``
  as text).
- ``is_deleted`` (bool) is false on every row read from the API; the reconcile scan sets it true (and
  ``deleted_at``, UTC) on rows HotProfile no longer returns (deleted, or merged into another record).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable
from zoneinfo import ZoneInfo

from sources.hotprofile.settings import DATE_FORMAT, DATETIME_FORMAT, Table

JST = ZoneInfo("Asia/Tokyo")
UTC = timezone.utc
_JST_OFFSET = timedelta(hours=9)          # Asia/Tokyo has had no DST since 1951: a fixed offset is exact

FLAG_SUFFIX = "_bool"
# What an unchecked box looks like ("ー" is the katakana long vowel mark the API renders); anything else
# non-empty counts as checked. None / "" → NULL.
_FLAG_VALUES: dict[Any, bool | None] = {None: None, "": None, "ー": False, "-": False, "－": False, "―": False,
                                        "0": False, 0: False, False: False, "false": False, "False": False,
                                        "1": True, 1: True, True: True, "✓": True}


def parse_jst(value: Any) -> datetime | None:
    """HotProfile timestamps are naive Japan time (``yyyy/mm/dd HH:MM:SS``); return aware UTC."""
    if not value:
        return None
    if type(value) is str and len(value) == 19:
        try:   # fast path: ~10x strptime
            return datetime(int(value[0:4]), int(value[5:7]), int(value[8:10]), int(value[11:13]),
                            int(value[14:16]), int(value[17:19]), tzinfo=UTC) - _JST_OFFSET
        except ValueError:
            pass
    if isinstance(value, datetime):
        return (value.replace(tzinfo=JST) if value.tzinfo is None else value).astimezone(UTC)
    text = str(value).strip().replace("-", "/").replace("T", " ")
    for fmt in (DATETIME_FORMAT, "%Y/%m/%d %H:%M", DATE_FORMAT):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=JST).astimezone(UTC)
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(str(value).strip())
        return (parsed.replace(tzinfo=JST) if parsed.tzinfo is None else parsed).astimezone(UTC)
    except ValueError:
        raise ValueError(f"unrecognised HotProfile timestamp {value!r}") from None


def parse_day(value: Any) -> date | None:
    """``yyyy/mm/dd`` (a calendar day in Japan, no conversion) → date; ``''`` → None."""
    if not value:
        return None
    if type(value) is str and len(value) == 10:
        try:
            return date(int(value[0:4]), int(value[5:7]), int(value[8:10]))
        except ValueError:
            pass
    if isinstance(value, date):
        return value if not isinstance(value, datetime) else value.date()
    text = str(value).strip().replace("-", "/")[:10]
    try:
        return datetime.strptime(text, DATE_FORMAT).date()
    except ValueError:
        raise ValueError(f"unrecognised HotProfile date {value!r}") from None


def to_jst(value: datetime, fmt: str) -> str:
    """A UTC moment as HotProfile's filter wants it: Japan time (or the Japan calendar day for DATE_FORMAT)."""
    return value.astimezone(JST).strftime(fmt)


def normalizer(table: Table) -> Callable[[dict], dict]:
    """The per-row function of ``table`` (in place; returns the row)."""
    stamps, days, ints, decimals = table.timestamps, table.dates, table.int_columns, table.decimal_columns
    texts = table.text_columns
    flags = tuple((name, name + FLAG_SUFFIX) for name in table.flags)
    blanks = tuple(ints) + tuple(decimals)
    flag_values = _FLAG_VALUES

    def normalize(row: dict) -> dict:
        for name in stamps:
            value = row.get(name)
            if value is not None:
                row[name] = parse_jst(value)
        for name in days:
            value = row.get(name)
            if value is not None:
                row[name] = parse_day(value)
        for name in blanks:
            if row.get(name) == "":
                row[name] = None
        for name in texts:
            value = row.get(name)
            if value is not None and type(value) is not str:
                row[name] = str(value).zfill(13) if name == "corporate_number" and type(value) is int else str(value)
        for raw, derived in flags:
            if raw in row:
                value = row[raw]
                try:
                    row[derived] = flag_values[value]
                except (KeyError, TypeError):
                    row[derived] = True
        row["is_deleted"] = False
        return row

    return normalize


def normalize(row: dict, table: Table) -> dict:
    """One row (convenience; the reader builds ``normalizer(table)`` once)."""
    return normalizer(table)(row)


_LIST_TYPES = {"text": "text", "bigint": "bigint"}


def columns(table: Table) -> dict[str, Any]:
    hints: dict[str, Any] = {name: {"data_type": "timestamp", "timezone": True} for name in table.timestamps}
    hints.update({name: {"data_type": "bigint"} for name in table.int_columns})
    hints.update({name: {"data_type": "text"} for name in table.text_columns})
    hints.update({name: {"data_type": "decimal"} for name in table.decimal_columns})
    hints.update({name: {"data_type": "date"} for name in table.dates})
    for name in table.flags:
        hints[name] = {"data_type": "text"}
        hints[name + FLAG_SUFFIX] = {"data_type": "bool"}
    hints["id"] = {"data_type": "bigint", "nullable": False}
    hints["is_deleted"] = {"data_type": "bool"}
    hints["deleted_at"] = {"data_type": "timestamp", "timezone": True}
    hints["updated_at"]["dedup_sort"] = "desc"
    return hints


def nested_hints(table: Table) -> dict[str, Any]:
    """Element types of the child tables, so a number in a text list (or custom item) stays text."""
    from dlt.extract.hints import make_nested_hints

    hints: dict[str, Any] = {}
    for field, kind in table.lists:
        if kind == "custom":
            hints[field] = make_nested_hints(columns={"label": {"data_type": "text"}, "value": {"data_type": "text"}})
        elif kind in _LIST_TYPES:
            hints[field] = make_nested_hints(columns={"value": {"data_type": _LIST_TYPES[kind]}})
    return hints
