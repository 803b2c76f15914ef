"""Declared Pipedrive columns: complete for the registry and for every field the emulator sends."""
from __future__ import annotations

import logging
import re

import pytest

from sandbox.pipedrive.data import V2_TABLES, Dataset
from sources._schema import DELETE_COLUMNS, TYPES, column_hints, conformer
from sources.pipedrive import shapes
from sources.pipedrive.columns import COLUMNS, INCLUDE_FIELDS
from sources.pipedrive.custom_fields import FieldCatalog
from sources.pipedrive.custom_fields import ENTITIES
from sources.pipedrive.readers import CDC, CDC_NEWEST_FIRST, PER_DEAL
from sources.pipedrive.tables import TABLES

HASH_KEY = re.compile(r"[0-9a-f]{40}")           # a lead's custom value, or its _currency/_<part> sub-key
SANDBOX_NAME = {"dealflow": "flow", "deal_participants": "participants"}


@pytest.fixture(scope="module")
def ds() -> Dataset:
    return Dataset(seed=3, deals=30)


def stored_rows(ds: Dataset, table: str) -> list[dict]:
    """The emulator's rows of ``table`` as the pipeline stores them, minus the custom-field values."""
    if table == "custom_fields":
        return [row for entity in ENTITIES
                for row in FieldCatalog(entity, ds.fields[entity], {}).mapping_rows()]
    if table == "dealflow":      # dealChange items only; the pipeline renames item_id to deal_id
        shaped = [shapes.flow_event(item, deal_id) for deal_id in sorted(ds.deals)
                  for item in ds.flow_items(deal_id, all_changes=True)]
        return [{("deal_id" if key == "item_id" else key): value for key, value in row.items()}
                for row in shaped if row is not None]
    rows = ds.expected(SANDBOX_NAME.get(table, table))
    if table == "deal_participants":
        rows = [shapes.participant(item, item["related_item_id"]) for item in rows]
    elif table in V2_TABLES:
        rows = [{key: value for key, value in row.items() if key != "custom_fields"} for row in rows]
    elif table == "leads":
        rows = [{key: value for key, value in row.items() if not HASH_KEY.match(key)} for row in rows]
    return rows


def test_every_registry_table_is_declared():
    assert set(COLUMNS) == set(TABLES)


@pytest.mark.parametrize("table", sorted(COLUMNS))
def test_types_are_known_and_delete_columns_present(table):
    columns = COLUMNS[table]
    assert {kind for kind in columns.values()} <= set(TYPES)
    assert {name: columns[name] for name in DELETE_COLUMNS} == DELETE_COLUMNS
    assert column_hints(columns)                 # raises on an unknown type


def test_primary_and_cursor_columns_are_declared():
    for table in TABLES.values():
        assert table.primary_key in COLUMNS[table.name], table.name
        if table.cursor_field and table.read in (CDC, CDC_NEWEST_FIRST, PER_DEAL):
            assert COLUMNS[table.name][table.cursor_field] == "timestamp", table.name


@pytest.mark.parametrize("table", sorted(TABLES))
def test_every_sandbox_field_is_declared(ds, table):
    rows = stored_rows(ds, table)
    assert rows, f"the sandbox has no {table} rows"
    undeclared = {key for row in rows for key in row} - set(COLUMNS[table])
    assert not undeclared, f"{table}: no declared type for {sorted(undeclared)}"


@pytest.mark.parametrize("table", sorted(TABLES))
def test_every_sandbox_value_fits_its_type(ds, table, caplog):
    conform = conformer(table, COLUMNS[table])
    with caplog.at_level(logging.WARNING, logger="crm_elt.schema"):
        for row in stored_rows(ds, table):
            conform(row)
    assert not caplog.records, [record.getMessage() for record in caplog.records]


def test_include_fields_are_declared():
    for table, names in INCLUDE_FIELDS.items():
        assert len(set(names)) == len(names), table
        missing = set(names) - set(COLUMNS[table])
        assert not missing, f"{table}: include_fields without a declared type: {sorted(missing)}"


def test_include_fields_cover_the_tables_that_ask_for_them():
    asking = {table.name for table in TABLES.values() if getattr(table, "include_fields", False)}
    assert asking <= set(INCLUDE_FIELDS)
    assert set(INCLUDE_FIELDS) <= {"deals", "persons", "organizations", "activities"}


def test_marketing_app_fields_are_not_requested():
    assert not {"marketing_status", "doi_status"} & set(INCLUDE_FIELDS["persons"])


def test_ids_of_leads_are_text_and_entity_ids_bigint():
    assert COLUMNS["leads"]["id"] == "text"
    for table in ("activities", "notes", "files"):
        assert COLUMNS[table]["lead_id"] == "text", table
    for table, columns in COLUMNS.items():
        for name, kind in columns.items():
            if name.endswith("_count") or (name.endswith("_id") and name not in ("lead_id", "channel_id", "origin_id",
                                                                                    "remote_id", "mail_message_id",
                                                                                    "mail_template_id",
                                                                                    "conference_meeting_id")):
                assert kind == "bigint", f"{table}.{name} is {kind}"


@pytest.mark.parametrize("table", sorted(INCLUDE_FIELDS))
def test_sandbox_optional_fields_fit_their_types(ds, table, caplog):
    if not hasattr(ds, "optional_fields"):
        pytest.skip("the sandbox does not serve include_fields")
    names = list(INCLUDE_FIELDS[table])
    rows = [ds.optional_fields(table, row, names) for row in ds.table(table).values()]
    assert all(set(row) == set(names) for row in rows)
    conform = conformer(table, COLUMNS[table])
    with caplog.at_level(logging.WARNING, logger="crm_elt.schema"):
        for row in rows:
            conform(row)
    assert not caplog.records, [record.getMessage() for record in caplog.records]
