"""HotProfile rows → warehouse rows: dlt column hints plus the per-row work.

Per row (kept light: 50k leads): Japan-time stamps → UTC, ``yyyy/mm/dd`` → date, an integer corporate
number → 13 digits of text, check boxes → ``<flag>_bool``, list fields always lists (a single value is
wrapped) with elements of their child table's type, ``is_deleted = false``; then
``sources._schema.conformer`` makes every column its declared type (``settings.Table.columns``; ``''`` →
NULL, numbers in text columns → text, undeclared fields → text), so dlt never splits a column into a
variant ``*__v_*``. Hints: ``columns`` (every declared column) and ``nested_hints`` (child tables).

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

from sources._schema import DELETE_COLUMNS, column_hints, conformer
from sources.hotprofile.tables import DATE_FORMAT, DATETIME_FORMAT, FLAG_SUFFIX, Table

JST = ZoneInfo("Asia/Tokyo")
UTC = timezone.utc
_JST_OFFSET = timedelta(hours=9)          # Asia/Tokyo has had no DST since 1951: a fixed offset is exact

# What an unchecked box looks like ("ー" is the katakana long vowel mark the API renders); anything else
# non-empty counts as checked. None / "" → NULL.
_FLAG_VALUES: dict[Any, bool | None] = {None: None, "": None, "ー": False, "-": False, "－": False, "―": False,
                                        "0": False, 0: False, "false": False, "False": False,
                                        "1": True, 1: True, "✓": True}


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
    """The per-row function of ``table`` (in place; returns the row): the HotProfile-specific work, then
    ``sources._schema.conformer`` to the declared columns (``declared(table)``)."""
    stamps, days = table.timestamps, table.dates
    flags = tuple((name, name + FLAG_SUFFIX) for name in table.flags)
    lists = tuple((name, _element_conformer(table, name, kind)) for name, kind in table.lists)
    flag_values = _FLAG_VALUES
    conform = conformer(table.name, declared(table))
    parsers = ((stamps, parse_jst, datetime), (days, parse_day, date))

    def normalize(row: dict) -> dict:
        for names, parse, parsed in parsers:
            for name in names:
                value = row.get(name)
                if value is not None and type(value) is not parsed:
                    try:
                        row[name] = parse(value)
                    except ValueError:
                        pass             # left as sent: the conformer stores NULL and warns once
        number = row.get("corporate_number")
        if type(number) is int:          # the spec's integer: 13 digits, leading zeros lost
            row["corporate_number"] = str(number).zfill(13)
        for raw, derived in flags:
            if raw in row:
                value = row[raw]
                try:
                    row[derived] = flag_values[value]
                except (KeyError, TypeError):
                    row[derived] = True
        for name, element in lists:
            if name in row:
                value = row[name]
                if type(value) is not list:   # one value instead of a list; None / '' → no element
                    value = [] if value is None or value == "" else [value]
                row[name] = [element(item) for item in value]
        row["is_deleted"] = False
        return conform(row)

    return normalize


def _element_conformer(table: Table, name: str, kind: str) -> Callable[[Any], Any]:
    """One list element → what its child table ``<table>__<name>`` declares (never a variant column)."""
    if kind == "custom":      # {"label", "value"} as text; other keys as text too; a bare value → {"value"}
        item = conformer(f"{table.name}__{name}", {"label": "text", "value": "text"})

        def custom(value: Any) -> dict:
            if type(value) is not dict:
                return item({"value": value})
            for part in value.values():
                if part is not None and type(part) is not str:
                    return item(value)
            return value                                   # all text already (the usual case)

        return custom
    one = conformer(f"{table.name}__{name}", {"value": _LIST_TYPES[kind]})
    fits = str if kind == "text" else int
    return lambda value: value if type(value) is fits else one({"value": value})["value"]


def declared(table: Table) -> dict[str, str]:
    """Every column of ``table`` with its type: the registry's plus ``is_deleted``, ``deleted_at``."""
    return {**table.columns, **DELETE_COLUMNS}


def normalize(row: dict, table: Table) -> dict:
    """One row (convenience; the reader builds ``normalizer(table)`` once)."""
    return normalizer(table)(row)


_LIST_TYPES = {"text": "text", "bigint": "bigint"}


def columns(table: Table) -> dict[str, Any]:
    """dlt column hints: every declared column typed, ``id`` not null, newest ``updated_at`` wins a merge."""
    hints = column_hints(declared(table))
    hints["id"] = {**hints["id"], "nullable": False}
    hints["updated_at"] = {**hints["updated_at"], "dedup_sort": "desc"}
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
