"""Pipedrive custom fields: 40-hex hashes → stable, readable columns with decoded values.

``fetch_fields`` reads an entity's field definitions (v1 ``*Fields``); ``FieldCatalog`` turns them into a
per-hash converter table once, then ``apply`` (v2 rows, ``custom_fields`` object) or ``apply_v1`` (v1 rows
such as leads, custom values as top-level hash keys plus ``<hash>_currency`` / ``<hash>_until`` /
``<hash>_<address part>`` sub-keys) rewrites every row with plain dict operations.

Column names live in ``names`` ({hash: column}), a dict persisted in dlt source state: new hashes are added,
existing entries are never changed, so renaming a field in Pipedrive never renames (or re-purposes) a column.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Any, Callable, Iterable, Mapping

from sources._http import ApiClient
from sources.pipedrive.paginators import OFFSET

ENTITIES = {"deal": "/v1/dealFields", "person": "/v1/personFields", "organization": "/v1/organizationFields",
            "product": "/v1/productFields", "activity": "/v1/activityFields"}
FIELD_ENTITY = {"lead": "deal"}                    # leads inherit all custom fields of deals
FIELDS_PAGE = 500
FIELDS_COST = 20

# Sub-values of an address field (v2: keys of the address object; v1: ``<hash>_<part>`` keys).
ADDRESS_PARTS = ("subpremise", "street_number", "route", "sublocality", "locality", "admin_area_level_1",
                 "admin_area_level_2", "country", "postal_code", "formatted_address")

# field_type → dlt data_type of the main column (None: no hint, dlt infers)
DATA_TYPES = {
    "double": "double", "monetary": "double",
    "int": "bigint", "user": "bigint", "org": "bigint", "people": "bigint",
    "date": "date", "daterange": "date",
    "set": "json",
    "enum": "text", "varchar": "text", "varchar_auto": "text", "varchar_options": "text", "text": "text",
    "phone": "text", "time": "text", "timerange": "text", "address": "text", "visible_to": "text",
}

MAX_COLUMN = 63                                    # fits every destination's identifier limit
_HASH = re.compile(r"[0-9a-f]{40}")
_NON_WORD = re.compile(r"[^a-z0-9]+")

Converter = Callable[[Any, dict], None]            # (value, out row) → writes the field's column(s)
V1Converter = Callable[[dict, dict], None]         # (v1 row, out) → pops the field's keys from row


def fetch_fields(client: ApiClient, entity: str, *, table: str) -> list[dict]:
    """Every field definition of ``entity`` (``lead`` reads the deal fields), all pages."""
    path = ENTITIES[FIELD_ENTITY.get(entity, entity)]
    fields: list[dict] = []
    for page in OFFSET.pages(client, path, {"limit": FIELDS_PAGE}, table=table, cost=FIELDS_COST):
        fields.extend(page)
    return fields


def is_custom_key(key: Any) -> bool:
    return isinstance(key, str) and _HASH.fullmatch(key) is not None


def snake_name(display: str, key: str) -> str:
    """``"Région (EU) – Notes"`` → ``"region_eu_notes"``; non-latin names → ``cf_<8 hex of the hash>``."""
    folded = unicodedata.normalize("NFKD", display or "").encode("ascii", "ignore").decode()
    name = _NON_WORD.sub("_", folded.lower()).strip("_")
    if not name:
        return f"cf_{key[:8]}"
    if name[0].isdigit():
        name = f"cf_{name}"
    return name[:MAX_COLUMN].rstrip("_")


def _derived(base: str, field_type: str) -> tuple[str, ...]:
    """Every column a field writes, main column first."""
    if field_type == "monetary":
        return base, f"{base}_currency"
    if field_type in ("daterange", "timerange"):
        return base, f"{base}_until"
    if field_type == "address":
        return (base, *(f"{base}_{part}" for part in ADDRESS_PARTS))
    return (base,)


class FieldCatalog:
    """Custom fields of one entity: names, column hints and per-row value conversion."""

    def __init__(self, entity: str, fields: list[dict], names: dict[str, str],
                 standard: Iterable[str] = frozenset()):
        self.entity = entity
        self.names = names
        self.unknown_options = 0                   # enum/set ids not (yet) in the fetched options
        self.unknown_fields: set[str] = set()      # hashes seen in rows but absent from ``fields``
        self.fields = [f for f in fields if is_custom_key(f.get("key"))]
        self.standard = set(standard) | {f["key"] for f in fields if not is_custom_key(f.get("key"))}
        self.standard.add("custom_fields")
        self._assign_names()

        self._columns: dict[str, dict] = {}
        self._nulls: dict[str, None] = {}
        self._v2: dict[str, Converter] = {}
        self._v1: list[V1Converter] = []
        for field in self.fields:
            key, ftype = field["key"], field.get("field_type") or ""
            column = names[key]
            outputs = _derived(column, ftype)
            for out in outputs:
                self._nulls[out] = None
            self._columns.update(self._hints(outputs, ftype))
            self._v2[key] = self._converter(ftype, outputs, field.get("options"))
            self._v1.append(self._v1_converter(key, ftype, outputs, self._v2[key]))

    # ------------------------------------------------------------------ naming
    def _assign_names(self) -> None:
        types = {f["key"]: f.get("field_type") or "" for f in self.fields}
        taken = set(self.standard)
        for key, column in self.names.items():
            taken.update(_derived(column, types.get(key, "")))
        for field in self.fields:
            key = field["key"]
            if key in self.names:
                continue
            base = snake_name(field.get("name") or "", key)
            column, n = base, 1
            while any(out in taken for out in _derived(column, types[key])):
                n += 1
                column = f"{base[:MAX_COLUMN - len(str(n)) - 1]}_{n}"
            self.names[key] = column
            taken.update(_derived(column, types[key]))

    @staticmethod
    def _hints(outputs: tuple[str, ...], ftype: str) -> dict[str, dict]:
        main = DATA_TYPES.get(ftype)
        hints = {}
        for i, out in enumerate(outputs):
            data_type = main if i == 0 else ("date" if ftype == "daterange" else "text")
            if data_type:
                hints[out] = {"data_type": data_type, "nullable": True}
        return hints

    # ------------------------------------------------------------------ converters
    def _labels(self, options: list[dict] | None) -> dict[Any, str]:
        labels: dict[Any, str] = {}
        for option in options or ():
            oid, label = option.get("id"), option.get("label")
            labels[oid] = label
            labels[str(oid)] = label
        return labels

    def _label(self, labels: Mapping[Any, str], oid: Any) -> str:
        label = labels.get(oid)
        if label is None:
            if isinstance(oid, dict):              # v1-style {"id": ..., "label": ...}
                oid = oid.get("id")
                label = labels.get(oid)
                if label is not None:
                    return label
            self.unknown_options += 1
            return str(oid)
        return label

    def _converter(self, ftype: str, outputs: tuple[str, ...], options: list[dict] | None) -> Converter:
        col = outputs[0]
        if ftype == "enum":
            labels = self._labels(options)
            get, label_of = labels.get, self._label

            def enum(value: Any, out: dict) -> None:
                label = get(value) if not isinstance(value, (dict, list)) else None
                out[col] = label if label is not None else label_of(labels, value)
            return enum
        if ftype == "set":
            labels = self._labels(options)
            get, label_of = labels.get, self._label

            def set_(value: Any, out: dict) -> None:
                if isinstance(value, str):
                    value = [v for v in value.split(",") if v]
                elif not isinstance(value, (list, tuple)):
                    value = [value]
                result = []
                for oid in value:
                    label = get(oid) if not isinstance(oid, dict) else None
                    result.append(label if label is not None else label_of(labels, oid))
                out[col] = result
            return set_
        if ftype == "monetary":
            currency = outputs[1]

            def monetary(value: Any, out: dict) -> None:
                if isinstance(value, dict):
                    out[currency] = value.get("currency")
                    value = value.get("value")
                try:
                    out[col] = None if value is None or value == "" else float(value)
                except (TypeError, ValueError):  # malformed amount: keep it rather than fail the load
                    out[col] = value
            return monetary
        if ftype == "address":
            parts = tuple(zip(ADDRESS_PARTS, outputs[1:]))

            def address(value: Any, out: dict) -> None:
                if isinstance(value, dict):
                    plain = value.get("value")
                    out[col] = plain if plain is not None else value.get("formatted_address")
                    for part, part_col in parts:
                        out[part_col] = value.get(part)
                else:
                    out[col] = value
            return address
        if ftype in ("daterange", "timerange"):
            until = outputs[1]

            def range_(value: Any, out: dict) -> None:
                if isinstance(value, dict):
                    start = value.get("start", value.get("from", value.get("value")))
                    end = value.get("end", value.get("until", value.get("to")))
                    out[col], out[until] = start, end
                elif isinstance(value, (list, tuple)):
                    out[col], out[until] = (list(value) + [None, None])[:2]
                else:
                    out[col] = value
            return range_
        if ftype in ("user", "org", "people", "int"):
            def ref(value: Any, out: dict) -> None:
                if isinstance(value, dict):             # v1 related object {"id"/"value": ..., "name": ...}
                    value = value.get("value", value.get("id"))
                out[col] = value
            return ref

        def plain(value: Any, out: dict) -> None:
            out[col] = value
        return plain

    @staticmethod
    def _v1_converter(key: str, ftype: str, outputs: tuple[str, ...], convert: Converter) -> V1Converter:
        # v1 spreads a money value or a range over two keys: <hash> + <hash>_currency / <hash>_until
        sibling = {"monetary": "currency", "daterange": "until", "timerange": "until"}.get(ftype)
        if sibling:
            sibling_key, sibling_col = f"{key}_{sibling}", outputs[1]

            def pair(row: dict, out: dict) -> None:
                value, second = row.pop(key, None), row.pop(sibling_key, None)
                if value is not None:
                    convert(value, out)
                if second is not None:
                    out[sibling_col] = second
            return pair
        if ftype == "address":
            parts = tuple((f"{key}_{part}", part_col) for part, part_col in zip(ADDRESS_PARTS, outputs[1:]))

            def address(row: dict, out: dict) -> None:
                value = row.pop(key, None)
                if value is not None:
                    convert(value, out)
                for part_key, part_col in parts:
                    part = row.pop(part_key, None)
                    if part is not None:
                        out[part_col] = part
            return address

        def single(row: dict, out: dict) -> None:
            value = row.pop(key, None)
            if value is not None:
                convert(value, out)
        return single

    # ------------------------------------------------------------------ per row
    def knows_all(self, rows: list[dict], v1: bool = False) -> bool:
        """Whether every custom-field hash in ``rows`` is known (else a field was created meanwhile)."""
        known = self._v2
        if v1:
            return all(key[:40] in known for row in rows for key in row if len(key) >= 40 and is_custom_key(key[:40]))
        return all(key in known for row in rows for key in (row.get("custom_fields") or ()))

    def apply(self, row: dict) -> dict:
        """v2 row: replace ``custom_fields`` by named columns (every custom column present, None if unset)."""
        custom = row.pop("custom_fields", None)
        row.update(self._nulls)
        if custom:
            converters = self._v2
            for key, value in custom.items():
                convert = converters.get(key)
                if convert is None:
                    self.unknown_fields.add(key)
                elif value is not None:
                    convert(value, row)
        return row

    def apply_v1(self, row: dict) -> dict:
        """v1 row (leads): move top-level hash keys (and their sub-keys) into named columns."""
        out = dict(self._nulls)
        for convert in self._v1:
            convert(row, out)
        for key in [k for k in row if len(k) >= 40 and is_custom_key(k[:40])]:
            self.unknown_fields.add(key[:40])
            del row[key]
        row.update(out)
        return row

    # ------------------------------------------------------------------ schema / lineage
    def columns(self) -> dict[str, dict]:
        """dlt column hints of every custom column (main + sub-columns)."""
        from sources._schema import column_hints

        return column_hints(self.types())

    def types(self) -> dict[str, str]:
        """Declared type of every custom column (text where the field type gives none)."""
        return {name: self._columns.get(name, {}).get("data_type", "text") for name in self._nulls}

    def mapping_rows(self) -> list[dict]:
        """One row per custom field for the ``custom_fields`` lineage table."""
        return [{"hash": f["key"], "entity": self.entity, "name": f.get("name"), "column": self.names[f["key"]],
                 "field_type": f.get("field_type")} for f in self.fields]


class NestedCustomFields:
    """v2 rows: custom fields in a ``custom_fields`` object keyed by field hash."""

    def knows_all(self, catalog: FieldCatalog, rows: list[dict]) -> bool:
        return catalog.knows_all(rows)

    def apply(self, catalog: FieldCatalog, row: dict) -> dict:
        return catalog.apply(row)


class FlatCustomFields:
    """v1 rows (leads): custom fields as top-level hash keys (money and ranges over two keys)."""

    def knows_all(self, catalog: FieldCatalog, rows: list[dict]) -> bool:
        return catalog.knows_all(rows, v1=True)

    def apply(self, catalog: FieldCatalog, row: dict) -> dict:
        return catalog.apply_v1(row)


NESTED, FLAT = NestedCustomFields(), FlatCustomFields()
