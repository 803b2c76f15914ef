"""Opt-in history tables: ``history_tables`` also loads each listed table into ``<table>_history`` with dlt's
``scd2`` strategy (``_dlt_valid_from`` / ``_dlt_valid_to``). Incremental loads carry changed rows only: a
row absent from a load keeps its current version; a deleted row's current version is closed."""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

import dlt
import pytest

from conftest import (HP_KEY, PD_TOKEN, hp_settings, no_sleep_hotprofile_client, no_sleep_pipedrive_client, pd_settings,
                      pg_rows, query, requires_postgres, run_hotprofile, run_pipedrive)
from pipelines.runner import Target
from sandbox.hotprofile import HotProfileSandbox
from sandbox.pipedrive import PipedriveSandbox
from sources import account_source
from sources._config import table_list
from sources._errors import ConfigError
from sources._history import history_resource

HISTORY = ("deals", "persons", "organizations")
Sql = Callable[[str], list]


@pytest.fixture
def small_pd():
    with PipedriveSandbox(seed=5, deals=40, token=PD_TOKEN, burst=10_000) as sb:
        yield sb


def run_pd(sb, target, **kw):
    """A run of the history tables only (half the time of all tables; ``tables=None``: every table)."""
    settings = kw.pop("settings", None) or pd_settings(sb, history_tables=HISTORY)
    kw.setdefault("tables", list(HISTORY))
    return run_pipedrive(sb, target, settings=settings, client=no_sleep_pipedrive_client(sb), **kw)


def versions(sql: Sql, table: str, schema: str = "pipedrive", columns: str = "") -> dict:
    """{id: [(valid_from, valid_to, *columns), ...] oldest first} of ``<table>_history``."""
    extra = f", {columns}" if columns else ""
    rows = sql(f"SELECT id, _dlt_valid_from, _dlt_valid_to{extra} FROM {schema}.{table}_history "
               "ORDER BY id, _dlt_valid_from")
    found: dict = {}
    for row in rows:
        found.setdefault(row[0], []).append(tuple(row[1:]))
    return found


def live(sql: Sql, table: str, schema: str = "pipedrive") -> set:
    return {r[0] for r in sql(f"SELECT id FROM {schema}.{table} WHERE is_deleted IS NOT TRUE")}


def assert_history_after_a_change_and_a_delete(sb, target, sql: Sql) -> tuple:
    """The scenario of the issue, on any warehouse: first load, a changed deal, a deleted deal."""
    run_pd(sb, target)
    first = {table: versions(sql, table) for table in HISTORY}
    for table in HISTORY:
        assert set(first[table]) == live(sql, table) == {r["id"] for r in sb.live(table) if not r["is_deleted"]}
        assert all(len(v) == 1 and v[0][1] is None for v in first[table].values()), table
    deals = sorted(first["deals"])
    changed, deleted = deals[0], deals[1]
    value = sql(f"SELECT value FROM pipedrive.deals WHERE id = {changed}")[0][0]

    sb.tick(60)
    sb.update("deals", changed, value=value + 1000)
    sb.delete("deals", deleted)
    second = run_pd(sb, target)
    assert 0 < next(t.rows for t in second.tables if t.table == "deals") < 5      # an incremental load
    after = versions(sql, "deals", columns="value, is_deleted")
    old, new = after[changed]
    assert old[2] == value and old[1] is not None and old[1] == new[0]           # closed when the new one began
    assert new[2] == value + 1000 and new[1] is None and new[3] is False
    assert len(after[deleted]) == 1 and after[deleted][0][1] is not None         # closed, nothing replaces it
    assert after[deleted][0][3] is False                                         # its last live values
    for key in set(deals) - {changed, deleted}:                                  # absent from the load: as they were
        assert [version[:2] for version in after[key]] == first["deals"][key]
    current = {key for key, rows in after.items() if rows[-1][1] is None}
    assert current == live(sql, "deals") == set(deals) - {deleted}

    run_pd(sb, target)                                                           # nothing changed: no version
    assert versions(sql, "deals", columns="value, is_deleted") == after
    return changed, deleted, value


# the README's queries (section "History tables"), run on the history the scenario leaves
AS_OF = """SELECT id, title, value, currency, status, stage_id
FROM pipedrive.deals_history
WHERE _dlt_valid_from <= CAST('2025-06-30 23:59:59+00' AS TIMESTAMP WITH TIME ZONE)
  AND (_dlt_valid_to IS NULL OR _dlt_valid_to > CAST('2025-06-30 23:59:59+00' AS TIMESTAMP WITH TIME ZONE))
ORDER BY id"""
ONE_DEAL = """SELECT value, stage_id, status, update_time, _dlt_valid_from, _dlt_valid_to,
       _dlt_valid_to - _dlt_valid_from AS lasted
FROM pipedrive.deals_history
WHERE id = 42
ORDER BY _dlt_valid_from"""
DELETED = """SELECT h.id, h.title, h.value, h._dlt_valid_to AS closed_at
FROM pipedrive.deals_history h
JOIN pipedrive.deals d ON d.id = h.id AND d.is_deleted
WHERE h._dlt_valid_to = (SELECT max(_dlt_valid_to) FROM pipedrive.deals_history x WHERE x.id = h.id)
  AND NOT EXISTS (SELECT 1 FROM pipedrive.deals_history c WHERE c.id = h.id AND c._dlt_valid_to IS NULL)"""


def assert_readme_queries(sql: Sql, changed, deleted, value) -> None:
    [(started, changed_at)] = sql("SELECT min(_dlt_valid_from), max(_dlt_valid_from) FROM pipedrive.deals_history")
    at = lambda moment: {row[0]: row[2] for row in sql(AS_OF.replace("2025-06-30 23:59:59+00", str(moment)))}
    before, now = at(started), at(changed_at)
    assert before[changed] == value and deleted in before                       # as it was after the first load
    assert now[changed] == value + 1000 and deleted not in now
    assert set(before) - {deleted} == set(now)
    assert [row[0] for row in sql(ONE_DEAL.replace("42", str(changed)))] == [value, value + 1000]
    assert [row[0] for row in sql(DELETED)] == [deleted]


def test_a_changed_deal_gets_a_new_version_and_a_deleted_deal_is_closed(small_pd, target):
    sql = lambda text: query(target, text)
    assert_readme_queries(sql, *assert_history_after_a_change_and_a_delete(small_pd, target, sql))
    # the history has the table's columns with the same types (custom fields included), plus the validity
    types = "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'pipedrive' " \
            "AND table_name = '{}'"
    table, history = set(sql(types.format("deals"))), set(sql(types.format("deals_history")))
    assert table - history == set()
    assert {c for c, _ in history - table} == {"_dlt_valid_from", "_dlt_valid_to"}


@requires_postgres
def test_history_on_postgres(small_pd, postgres_db, tmp_path, monkeypatch):
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres_db)
    target = Target("postgres", None, str(tmp_path / "pipelines"))
    sql = lambda text: pg_rows(postgres_db, text)
    assert_readme_queries(sql, *assert_history_after_a_change_and_a_delete(small_pd, target, sql))


def test_a_delete_found_by_the_id_scan_closes_the_current_version(small_pd, target):
    """Persons vanish from the list when deleted: the id scan re-emits the stored row marked deleted.
    (Runs of every table: the histories load beside the whole source.)"""
    sb = small_pd
    run_pd(sb, target, tables=None)
    person = min(versions(lambda text: query(target, text), "persons"))
    sb.tick(60)
    sb.delete("persons", person)
    run_pd(sb, target, settings=pd_settings(sb, history_tables=HISTORY, reconcile_every_hours=0), tables=None)
    assert query(target, f"SELECT is_deleted FROM pipedrive.persons WHERE id = {person}") == [(True,)]
    closed = versions(lambda text: query(target, text), "persons", columns="name")[person]
    assert len(closed) == 1 and closed[0][1] is not None and closed[0][2] is not None    # no blank version


def test_a_run_of_some_tables_and_its_checkpoint_segments_load_their_histories(small_pd, target, monkeypatch):
    from sources.pipedrive import readers

    # a checkpoint between tables only (a segment per table): each segment selects its tables and histories
    monkeypatch.setattr(readers, "resumable", lambda *args: False)
    settings = replace(pd_settings(small_pd, history_tables=HISTORY), checkpoint_minutes=1e-6)
    result = run_pd(small_pd, target, tables=["deals", "persons"], settings=settings)
    assert result.stopped is None and result.completed == ["deals", "persons"]
    assert query(target, "SELECT count(*) FROM pipedrive._dlt_loads")[0][0] == 2, "a segment per table"
    sql = lambda text: query(target, text)
    for table in ("deals", "persons"):
        history = versions(sql, table)
        assert set(history) == live(sql, table) and all(len(v) == 1 for v in history.values()), table
    assert query(target, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'pipedrive' "
                         "AND table_name = 'organizations_history'") == [(0,)]         # not in this run


def test_turned_on_later_the_history_starts_with_a_full_refresh(small_pd, target):
    sb, sql = small_pd, (lambda text: query(target, text))
    run_pd(sb, target, settings=pd_settings(sb))                                 # no history yet
    deal = min(live(sql, "deals"))
    sb.tick(60)
    sb.update("deals", deal, title="Changed")
    run_pd(sb, target)                                                           # only the changed deal
    assert set(versions(sql, "deals")) == {deal}
    run_pd(sb, target, full_refresh=["deals"])                                   # every deal, once
    history = versions(sql, "deals")
    assert set(history) == live(sql, "deals") and all(len(v) == 1 and v[0][1] is None for v in history.values())


def test_hotprofile_history_keeps_each_versions_lists(target):
    with HotProfileSandbox(seed=5, clients=30, leads=20, business_cards=10, api_key=HP_KEY, rate=None) as sb:
        settings = hp_settings(sb, history_tables=("leads",), reconcile_every_hours=0)   # the scan finds deletes
        run = lambda: run_hotprofile(sb, target, settings=settings, client=no_sleep_hotprofile_client(sb),
                                     tables=["leads"])
        sql = lambda text: query(target, text)
        run()
        first = versions(sql, "leads", "hotprofile")
        assert set(first) == live(sql, "leads", "hotprofile") == set(sb.ids("leads"))
        assert sql("SELECT count(*) FROM hotprofile.leads_history__tags") == \
            sql("SELECT count(*) FROM hotprofile.leads__tags")

        changed, deleted = sorted(first)[:2]
        tags_before = next(r for r in sb.expected("leads") if r["id"] == changed)["tags"]
        sb.tick(hours=1)
        sb.update("leads", changed, name="Renamed", tags=["renamed"])
        sb.delete("leads", deleted)
        run()
        after = versions(sql, "leads", "hotprofile", columns="name, _dlt_id")
        old, new = after[changed]
        assert old[1] == new[0] and new[1] is None and new[2] == "Renamed" and old[2] != "Renamed"
        tags = "SELECT value FROM hotprofile.leads_history__tags WHERE _dlt_parent_id = '{}' ORDER BY _dlt_list_idx"
        assert [r[0] for r in sql(tags.format(new[3]))] == ["renamed"]
        assert [r[0] for r in sql(tags.format(old[3]))] == tags_before               # each version its own list
        assert len(after[deleted]) == 1 and after[deleted][0][1] is not None
        for key in set(first) - {changed, deleted}:                              # absent from the load: as they were
            assert [version[:2] for version in after[key]] == first[key]


def test_without_history_tables_nothing_changes(small_pd, target):
    run_pipedrive(small_pd, target, client=no_sleep_pipedrive_client(small_pd))
    assert query(target, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'pipedrive' "
                         "AND table_name LIKE '%\\_history%' ESCAPE '\\' AND table_type = 'BASE TABLE'") == []


def test_a_row_listed_twice_in_one_load_is_passed_on_once(tmp_path):
    @dlt.resource(name="deals")
    def deals():
        yield [{"id": 1, "value": 10}, {"id": 2, "value": 20}]
        yield [{"id": 1, "value": 10}, {"id": 2, "value": 25}]      # 1: the scan's copy; 2: a later change

    table = deals()
    history = history_resource(table, {"id": {"data_type": "bigint", "primary_key": True}})
    assert list(history) == [{"id": 1, "value": 10}, {"id": 2, "value": 20}, {"id": 2, "value": 25}]
    assert history.name == "deals_history" and history.write_disposition["strategy"] == "scd2"
    assert "primary_key" not in history.columns["id"]                    # versions share their id
    # an extraction retried with the same source (a DuckDB lock met while extracting) is a load of its own
    pipeline = dlt.pipeline("history_retry", destination=dlt.destinations.duckdb(str(tmp_path / "h.duckdb")),
                            pipelines_dir=str(tmp_path / "p"))
    for _ in range(2):
        info = pipeline.extract([table, history])
        metrics = info.metrics[info.loads_ids[-1]][0]["table_metrics"]
        assert metrics["deals_history"].items_count == 3 and metrics["deals"].items_count == 4


@pytest.mark.parametrize("value, expected", [
    (None, ()), ("", ()), ("deals", ("deals",)), (" deals , persons,", ("deals", "persons")),
    ('["deals", "persons"]', ("deals", "persons")), (["persons", "deals", "persons"], ("persons", "deals")),
])
def test_history_tables_take_a_list_or_comma_separated_names(value, expected):
    assert table_list(value, "history_tables", ("deals", "persons", "organizations")) == expected


def test_an_unknown_history_table_is_one_line_naming_the_key(monkeypatch):
    monkeypatch.setenv("SOURCES__PIPEDRIVE__API_TOKEN", PD_TOKEN)
    monkeypatch.setenv("SOURCES__PIPEDRIVE__BASE_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("SOURCES__PIPEDRIVE__HISTORY_TABLES", "deals,deal")
    with pytest.raises(ConfigError) as raised:
        account_source("pipedrive")
    message = str(raised.value)
    assert "\n" not in message and message.startswith("sources.pipedrive.history_tables: unknown table(s) deal;")
    assert "deals, persons, organizations" in message

    monkeypatch.setenv("SOURCES__PIPEDRIVE__HISTORY_TABLES", "deals, persons")
    built = account_source("pipedrive")
    assert [name for name in built.resources if name.endswith("_history")] == ["deals_history", "persons_history"]
    monkeypatch.setenv("SOURCES__HOTPROFILE__API_KEY", HP_KEY)
    monkeypatch.setenv("SOURCES__HOTPROFILE__URL_INSTANCE", "http://127.0.0.1:1")
    monkeypatch.setenv("SOURCES__HOTPROFILE__HISTORY_TABLES", '["clients", "deals"]')
    with pytest.raises(ConfigError, match=r"^sources\.hotprofile\.history_tables: unknown table\(s\) deals; "
                                          r"choose from clients, leads, business_cards$"):
        account_source("hotprofile")


def test_asset_specs_list_the_configured_history_tables(monkeypatch):
    """Dagster's assets come from ``spec_source`` (no credentials): a history table a run loads is an asset."""
    from sources import spec_source

    assert not [name for name in spec_source("pipedrive").resources if name.endswith("_history")]
    monkeypatch.setenv("SOURCES__PIPEDRIVE__HISTORY_TABLES", "deals")
    monkeypatch.setenv("SOURCES__PIPEDRIVE__ACCOUNTS", '["eu"]')
    monkeypatch.setenv("SOURCES__PIPEDRIVE__EU__HISTORY_TABLES", '["persons", "deals"]')
    assert [name for name in spec_source("pipedrive").resources if name.endswith("_history")] == \
        ["deals_history", "persons_history"]
    monkeypatch.setenv("SOURCES__PIPEDRIVE__EU__HISTORY_TABLES", "person")
    with pytest.raises(ConfigError, match=r"^sources\.pipedrive\.eu\.history_tables: unknown table\(s\) person;"):
        spec_source("pipedrive")
