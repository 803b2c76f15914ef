"""HotProfile clients, leads and business cards end to end: sandbox API → real pipeline → DuckDB."""
from __future__ import annotations

import inspect
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import dlt
import pytest

from conftest import HP_KEY, hp_settings, no_sleep_hotprofile_client, query, run_hotprofile
from pipelines import runner
from sandbox.hotprofile import FLAG_OFF, FLAG_ON, JST, HotProfileSandbox
from sources._errors import ApiError, ConfigError
from sources._incremental import RunContext, Window

JST_OFFSET = timedelta(hours=9)
TABLES = ("clients", "leads", "business_cards")
CALLS = {"clients": "/rest_api/v1/clients/get_entry_list_flow",
         "leads": "/rest_api/v1/leads/get_entry_list_flow",
         "business_cards": "/rest_api/v1/business_cards/get_entry_list"}
PAGE = {"clients": 1000, "leads": 100, "business_cards": 1000}
SINCE = {"clients": "search[from_datetime_updated_on]", "leads": "search[from_datetime_updated_on]",
         "business_cards": "search[from_updated_on]"}


@pytest.fixture
def sb():
    with HotProfileSandbox(seed=11, clients=300, leads=450, business_cards=350, api_key=HP_KEY, rate=None) as box:
        yield box


def jst_to_utc(text: str) -> datetime:
    """Independent of the source's parser: fixed +09:00 (Japan has no DST)."""
    return datetime.strptime(text, "%Y/%m/%d %H:%M:%S").replace(tzinfo=timezone.utc) - JST_OFFSET


def warehouse(target, table: str, live_only: bool = True) -> dict[int, tuple]:
    where = "WHERE NOT is_deleted" if live_only else ""
    rows = query(target, f"SELECT id, updated_at, name FROM hotprofile.{table} {where}")
    return {r[0]: (r[1].astimezone(timezone.utc), r[2]) for r in rows}


def api(sb, table: str) -> dict[int, tuple]:
    return {r["id"]: (jst_to_utc(r["updated_at"]), r["name"]) for r in sb.expected(table)}


def cursors(target) -> dict[str, str | None]:
    pipeline = dlt.attach(runner.pipeline_name("hotprofile", None), pipelines_dir=target.pipelines_dir)
    resources = pipeline.state["sources"]["hotprofile"]["resources"]
    return {name: resources.get(name, {}).get("cursor") for name in TABLES}


def rows_loaded(result, table: str) -> int:
    return next(t.rows for t in result.tables if t.table == table)


def run_reconcile(sb, target, monkeypatch, **kw):
    """``run_source(..., reconcile=True)`` once the runner has the flag; until then, via RunContext."""
    if "reconcile" in inspect.signature(runner.run_source).parameters:
        return run_hotprofile(sb, target, reconcile=True, **kw)
    with monkeypatch.context() as patch:
        patch.setattr(runner, "RunContext", lambda **args: RunContext(reconcile=True, **args))
        return run_hotprofile(sb, target, **kw)


# --- first load and incremental ---------------------------------------------------------------------


@pytest.mark.parametrize("table", TABLES)
def test_first_load_is_an_exact_copy_read_in_id_order(sb, target, table):
    run_hotprofile(sb, target, tables=[table])
    assert warehouse(target, table) == api(sb, table)
    calls = sb.server.requests_to(CALLS[table])
    n = len(sb.expected(table))
    assert len(calls) == (n // PAGE[table] + 1)
    for number, call in enumerate(calls, 1):
        assert call.method == "POST" and call.body == b""
        assert call.query["api_key"] == HP_KEY
        assert call.query["page[display_number]"] == str(PAGE[table])
        # id order: ascending with keyset paging, descending with page numbers (a new card lands in
        # front of the scan, so an insert cannot hide a delete that shifts a row onto a page read before)
        assert call.query["order[key]"] == "id"
        assert call.query["order[type]"] == ("desc" if table == "business_cards" else "asc")
        assert SINCE[table] not in call.query
        if table == "business_cards":       # no search[from_id] for cards: page numbers in id order
            assert call.query["page[number]"] == str(number) and "search[from_id]" not in call.query
        else:
            assert call.query["page[number]"] == "1"
    if table == "leads":
        ids = [r["id"] for r in sb.expected("leads")]
        assert [int(c.query["search[from_id]"]) for c in calls[1:]] == [ids[k - 1] + 1 for k in (100, 200, 300, 400)]
    assert query(target, f"SELECT count(*) FROM hotprofile.{table} WHERE is_deleted") == [(0,)]


@pytest.mark.parametrize("table", TABLES)
def test_incremental_run_asks_in_japan_time_minus_lag_and_converges(sb, target, table):
    run_hotprofile(sb, target, tables=[table])
    newest = max(jst_to_utc(r["updated_at"]) for r in sb.expected(table))
    sb.tick(120)
    changed = sb.mutate(seed=5, updates=12, inserts=4, deletes=0, merges=0, same_second=3, tables=[table])[table]
    sb.server.clear_requests()
    result = run_hotprofile(sb, target, tables=[table])
    since = sb.server.requests_to(CALLS[table])[0].query[SINCE[table]]
    moment = newest - timedelta(minutes=10) + JST_OFFSET
    assert since == moment.strftime("%Y/%m/%d" if table == "business_cards" else "%Y/%m/%d %H:%M:%S")
    assert warehouse(target, table) == api(sb, table)
    # only what changed (the whole re-read day of the cards is filtered down to the cursor window)
    assert rows_loaded(result, table) == len(changed["updated"]) + len(changed["inserted"]) + len(changed["same_second"])
    # and a run without changes loads nothing
    assert rows_loaded(run_hotprofile(sb, target, tables=[table]), table) == 0


@pytest.mark.parametrize("table", TABLES)
def test_same_second_updates_at_the_cursor_are_not_lost(sb, target, table):
    run_hotprofile(sb, target, tables=[table])
    late = sb.mutate(seed=9, updates=0, inserts=0, deletes=0, merges=0, same_second=4, tables=[table])[table]
    result = run_hotprofile(sb, target, tables=[table])
    assert rows_loaded(result, table) == 4
    assert warehouse(target, table) == api(sb, table)
    assert set(late["same_second"]) <= set(warehouse(target, table))


def test_lag_is_configurable(sb, target):
    run_hotprofile(sb, target, tables=["clients"])
    newest = max(jst_to_utc(r["updated_at"]) for r in sb.expected("clients"))
    sb.server.clear_requests()
    run_hotprofile(sb, target, tables=["clients"], settings=hp_settings(sb, lag=timedelta(minutes=45)))
    since = sb.server.requests_to(CALLS["clients"])[0].query[SINCE["clients"]]
    assert since == (newest - timedelta(minutes=45) + JST_OFFSET).strftime("%Y/%m/%d %H:%M:%S")


def test_cursor_never_passes_the_run_start(target):
    future = datetime.now(timezone.utc) + timedelta(days=3)
    with HotProfileSandbox(seed=3, clients=50, leads=0, business_cards=0, api_key=HP_KEY, rate=None,
                           start=future) as box:
        box.update("clients", box.ids("clients")[0])      # stamped at the (future) sandbox clock
        before = datetime.now(timezone.utc)
        run_hotprofile(box, target, tables=["clients"])
        stored = datetime.fromisoformat(cursors(target)["clients"])
        assert before.replace(microsecond=0) <= stored <= datetime.now(timezone.utc)     # in whole seconds


# --- records changing while a scan runs -------------------------------------------------------------


@pytest.mark.parametrize("table", ["clients", "leads"])
def test_record_updated_while_paging_is_caught(sb, target, table, monkeypatch):
    from sources.hotprofile.tables import TABLES as REGISTRY

    monkeypatch.setitem(REGISTRY, table, replace(REGISTRY[table], page_size=100))
    ids = sb.ids(table)
    served = []

    def during(name, page):
        served.append(name)
        if name == table and len(served) == 2:       # page 1 read, page 2 about to be served
            sb.tick(5)
            sb.update(table, ids[3], note="ページング中に更新（既読ページ）")
            sb.update(table, ids[-3], note="ページング中に更新（未読ページ）")

    sb.on_page(during)
    run_hotprofile(sb, target, tables=[table])
    sb.on_page(None)
    notes = dict(query(target, f"SELECT id, note FROM hotprofile.{table} WHERE id IN ({ids[3]}, {ids[-3]})"))
    assert notes[ids[-3]] == "ページング中に更新（未読ページ）"   # the unread page shows the new version
    assert len(warehouse(target, table)) == len(ids)           # keyset paging skips nothing
    run_hotprofile(sb, target, tables=[table])                 # the next run picks up the read page's update
    notes = dict(query(target, f"SELECT id, note FROM hotprofile.{table} WHERE id IN ({ids[3]})"))
    assert notes[ids[3]] == "ページング中に更新（既読ページ）"
    assert warehouse(target, table) == api(sb, table)


def test_business_card_deleted_while_paging_does_not_skip_a_row(sb, target, monkeypatch):
    from sources.hotprofile.tables import TABLES as REGISTRY

    monkeypatch.setitem(REGISTRY, "business_cards", replace(REGISTRY["business_cards"], page_size=100))
    ids = sb.ids("business_cards")
    served = []

    def during(name, page):
        served.append(page)
        if len(served) == 3:                           # pages 1, 2 read: two read rows vanish
            sb.delete("business_cards", ids[5])
            sb.delete("business_cards", ids[150])
            sb.tick(3)
            sb.update("business_cards", ids[250], note="ページング中に更新")

    sb.on_page(during)
    run_hotprofile(sb, target, tables=["business_cards"])
    sb.on_page(None)
    loaded = set(warehouse(target, "business_cards"))
    assert set(sb.ids("business_cards")) <= loaded             # without the step back, ids[150], ids[149] are skipped
    assert served[:5] == [1, 2, 3, 2, 3]                      # re-read after total_count shrank


# --- business cards: Japan calendar days --------------------------------------------------------------


def test_business_cards_reread_the_cursor_day_in_japan_time(target):
    start = datetime(2023, 3, 10, 0, 6, tzinfo=JST)          # seeded rows end at 00:05:00 JST
    with HotProfileSandbox(seed=5, clients=20, leads=0, business_cards=120, api_key=HP_KEY, rate=None,
                           start=start) as box:
        ids = box.ids("business_cards")
        box.update("business_cards", ids[0], updated_at="2023/03/10 00:05:00")
        run_hotprofile(box, target, tables=["business_cards"])
        assert cursors(target)["business_cards"] == "2023-03-09T15:05:00+00:00"
        # a late write just before midnight (inside the lag) and a change at 00:30 JST (15:30 UTC the day before)
        box.update("business_cards", ids[1], updated_at="2023/03/09 23:58:00", note="遅れて確定")
        box.tick(minutes=24)
        box.update("business_cards", ids[2], note="深夜の更新")
        assert box.clock_str == "2023/03/10 00:30:00"
        box.server.clear_requests()
        result = run_hotprofile(box, target, tables=["business_cards"])
        call = box.server.requests_to(CALLS["business_cards"])[0]
        assert call.query["search[from_updated_on]"] == "2023/03/09"   # JST date of 00:05 - 10 min
        assert rows_loaded(result, "business_cards") == 2
        rows = dict(query(target, f"SELECT id, updated_at FROM hotprofile.business_cards WHERE id IN ({ids[1]}, {ids[2]})"))
        assert rows[ids[2]] == datetime(2023, 3, 9, 15, 30, tzinfo=timezone.utc)
        assert rows[ids[1]] == datetime(2023, 3, 9, 14, 58, tzinfo=timezone.utc)
        assert cursors(target)["business_cards"] == "2023-03-09T15:30:00+00:00"
        # next day: the filter is the Japan date (2023/03/10), though the cursor is 2023-03-09 in UTC
        box.server.clear_requests()
        run_hotprofile(box, target, tables=["business_cards"])
        assert box.server.requests_to(CALLS["business_cards"])[0].query["search[from_updated_on]"] == "2023/03/10"


# --- deletes and merges ---------------------------------------------------------------------------------


def test_reconcile_marks_deleted_and_merged_rows_and_keeps_their_data(sb, target, monkeypatch):
    run_hotprofile(sb, target)
    before = {t: {r[0]: r[1:] for r in query(target, f"SELECT id, name, updated_at FROM hotprofile.{t}")} for t in TABLES}
    items_before = query(target, "SELECT c.id, count(*) FROM hotprofile.clients c JOIN hotprofile.clients__items i "
                                 "ON i._dlt_parent_id = c._dlt_id GROUP BY c.id")
    sb.tick(60)
    changes = sb.mutate(seed=2, updates=2, inserts=2, deletes=3, merges=1)
    sb.server.clear_requests()
    result = run_reconcile(sb, target, monkeypatch)
    for table in TABLES:
        gone = set(changes[table]["deleted"]) | {dup for dup, _ in changes[table]["merged"]}
        assert len(gone) == 4
        flagged = dict(query(target, f"SELECT id, deleted_at FROM hotprofile.{table} WHERE is_deleted"))
        assert set(flagged) == gone
        assert all(when is not None for when in flagged.values())
        # deleted rows keep their last known data
        kept = {r[0]: r[1:] for r in query(target, f"SELECT id, name, updated_at FROM hotprofile.{table} WHERE is_deleted")}
        assert kept == {i: before[table][i] for i in gone}
        assert warehouse(target, table) == api(sb, table)
        assert query(target, f"SELECT count(*) FROM hotprofile.{table} WHERE is_deleted IS NULL") == [(0,)]
        assert query(target, f"SELECT count(*) FROM hotprofile.{table} WHERE NOT is_deleted AND deleted_at IS NOT NULL") == [(0,)]
        # the scan: largest page, no date filter
        scan = sb.server.requests_to(CALLS[table])[0].query
        assert scan["page[display_number]"] == str(PAGE[table]) and SINCE[table] not in scan
        # 4 tombstones plus what the mutation stamped now (updates, inserts, survivors, re-pointed leads)
        assert rows_loaded(result, table) == 4 + len([r for r in sb.expected(table) if r["updated_at"] == sb.clock_str])
    # the deleted clients' custom items are still there
    items_after = dict(query(target, "SELECT c.id, count(*) FROM hotprofile.clients c JOIN hotprofile.clients__items i "
                                     "ON i._dlt_parent_id = c._dlt_id GROUP BY c.id"))
    assert dict(items_before) == {i: n for i, n in items_after.items() if i in dict(items_before)}
    gone = set(changes["clients"]["deleted"]) | {dup for dup, _ in changes["clients"]["merged"]}
    assert gone <= set(items_after)
    # merged client: the survivor is live and the leads re-pointed to it arrived with the incremental pass
    dup, keep = changes["clients"]["merged"][0]
    assert query(target, f"SELECT is_deleted FROM hotprofile.clients WHERE id = {keep}") == [(False,)]
    assert query(target, f"SELECT count(*) FROM hotprofile.leads WHERE client_id = {dup} AND NOT is_deleted") == [(0,)]
    # a second reconcile finds nothing new
    again = run_reconcile(sb, target, monkeypatch)
    assert all(t.rows == 0 for t in again.tables)


def test_reconcile_revives_a_row_that_is_back(sb, target, monkeypatch):
    run_hotprofile(sb, target, tables=["business_cards"])
    card = sb.expected("business_cards")[10]
    sb.delete("business_cards", card["id"])
    run_reconcile(sb, target, monkeypatch, tables=["business_cards"])
    assert query(target, f"SELECT is_deleted FROM hotprofile.business_cards WHERE id = {card['id']}") == [(True,)]
    # restored with its old updated_at: the incremental pass cannot see it, the scan does
    sb.insert("business_cards", **card)
    result = run_reconcile(sb, target, monkeypatch, tables=["business_cards"])
    assert rows_loaded(result, "business_cards") == 1
    assert query(target, f"SELECT is_deleted, deleted_at FROM hotprofile.business_cards WHERE id = {card['id']}") == [(False, None)]


def test_without_reconcile_nothing_is_scanned(sb, target):
    run_hotprofile(sb, target, tables=["leads"])
    sb.delete("leads", sb.ids("leads")[0])
    sb.server.clear_requests()
    run_hotprofile(sb, target, tables=["leads"])
    assert all(SINCE["leads"] in c.query for c in sb.server.requests_to(CALLS["leads"]))
    assert query(target, "SELECT count(*) FROM hotprofile.leads WHERE is_deleted") == [(0,)]


def client_lists(target, client_id: int) -> dict[str, list]:
    items = query(target, "SELECT i.label, i.value FROM hotprofile.clients c JOIN hotprofile.clients__items i "
                          f"ON i._dlt_parent_id = c._dlt_id WHERE c.id = {client_id} ORDER BY i._dlt_list_idx")
    jsic = query(target, "SELECT j.value FROM hotprofile.clients c JOIN hotprofile.clients__jsic_business_category_kbn j "
                         f"ON j._dlt_parent_id = c._dlt_id WHERE c.id = {client_id} ORDER BY j._dlt_list_idx")
    return {"items": items, "jsic": [v for (v,) in jsic]}


def reconciled_at(target) -> dict[str, str | None]:
    pipeline = dlt.attach(runner.pipeline_name("hotprofile", None), pipelines_dir=target.pipelines_dir)
    resources = pipeline.state["sources"]["hotprofile"]["resources"]
    return {name: resources.get(name, {}).get("reconciled_at") for name in TABLES}


def scans(sb, table: str) -> int:
    """Requests of ``table`` without the CDC filter: the id scan (and a first load)."""
    return len([c for c in sb.server.requests_to(CALLS[table]) if SINCE[table] not in c.query])


def test_reconcile_every_run_marks_a_deleted_client_without_the_flag(target):
    with small_sandbox() as box:
        victim = box.ids("clients")[5]
        box.patch("clients", victim, jsic_business_category_kbn=["E", "G"])
        settings = hp_settings(box, reconcile_every_hours=0)
        run_hotprofile(box, target, settings=settings)
        before = query(target, f"SELECT name, updated_at, corporate_number FROM hotprofile.clients WHERE id = {victim}")
        lists = client_lists(target, victim)
        assert lists["items"] and lists["jsic"] == ["E", "G"]
        box.tick(60)
        box.delete("clients", victim)
        box.server.clear_requests()
        result = run_hotprofile(box, target, settings=settings)          # no --reconcile
        assert scans(box, "clients") == 1                                # the id scan of this run
        cost = {t.table: t.requests for t in result.tables}
        assert cost["clients (reconcile)"] == 1 and cost["clients"] == 1   # the scan on a line of its own
        assert query(target, "SELECT id, deleted_at IS NOT NULL FROM hotprofile.clients WHERE is_deleted") == [(victim, True)]
        # the deleted client keeps its last values and its child rows
        assert query(target, f"SELECT name, updated_at, corporate_number FROM hotprofile.clients "
                             f"WHERE id = {victim}") == before
        assert client_lists(target, victim) == lists
        assert warehouse(target, "clients") == api(box, "clients")


def test_reconcile_runs_once_a_day_by_default_and_a_first_load_needs_none(target, monkeypatch):
    with small_sandbox() as box:
        first_run = run_hotprofile(box, target)
        for table in TABLES:                                             # the read alone: 60 rows, one page
            assert len(box.server.requests_to(CALLS[table])) == 1
        assert [t.table for t in first_run.tables] == list(TABLES)      # no scan line
        first = reconciled_at(target)
        assert all(first.values())                                       # a first load counts as a reconcile
        gone = {table: box.ids(table)[7] for table in TABLES}
        for table, row_id in gone.items():
            box.delete(table, row_id)
        box.tick(60)
        box.server.clear_requests()
        again = run_hotprofile(box, target)                              # right after: no scan
        assert all(scans(box, table) == 0 for table in TABLES)
        assert [t.table for t in again.tables] == list(TABLES)
        assert reconciled_at(target) == first
        assert all(query(target, f"SELECT count(*) FROM hotprofile.{t} WHERE is_deleted") == [(0,)] for t in TABLES)
        # 25 hours later the scan is due
        later = datetime.now(timezone.utc) + timedelta(hours=25)
        box.server.clear_requests()
        with monkeypatch.context() as patch:
            patch.setattr(runner, "RunContext", lambda **args: RunContext(now=lambda: later, **args))
            due = run_hotprofile(box, target)
        cost = {t.table: t.requests for t in due.tables}
        for table, row_id in gone.items():
            assert scans(box, table) == 1 and cost[f"{table} (reconcile)"] == 1
            assert query(target, f"SELECT id FROM hotprofile.{table} WHERE is_deleted") == [(row_id,)]
        assert set(reconciled_at(target).values()) == {later.isoformat()}


@pytest.mark.parametrize("table", ["clients", "business_cards"])
def test_rows_created_or_changed_during_the_scan_are_not_marked_deleted(target, table):
    with small_sandbox(page_cap={table: 25}) as box:
        settings = hp_settings(box, reconcile_every_hours=0)
        run_hotprofile(box, target, tables=[table], settings=settings)
        ids = box.ids(table)
        # the scan reads clients in ascending, cards in descending id order, 25 a page
        read, unread = (ids[3], ids[40]) if table == "clients" else (ids[-3], ids[10])
        served = []

        def during(name, page):
            served.append(page)
            if len(served) == 2:                                          # scan page 1 read, page 2 next
                box.tick(5)
                box.delete(table, read)
                box.delete(table, unread)
                box.insert(table)
                box.insert(table)
                for row_id in (ids[1], ids[30], ids[-1]):
                    box.update(table, row_id, note="スキャン中に更新")

        box.tick(60)
        box.on_page(during)
        run_hotprofile(box, target, tables=[table], settings=settings)
        box.on_page(None)
        flagged = lambda: {r[0] for r in query(target, f"SELECT id FROM hotprofile.{table} WHERE is_deleted")}
        assert flagged() == {unread}            # the row deleted after the scan read it: next run
        assert set(warehouse(target, table)) == set(box.ids(table)) | {read}
        run_hotprofile(box, target, tables=[table], settings=settings)
        assert flagged() == {read, unread}
        assert warehouse(target, table) == api(box, table)


def test_a_deleted_client_with_a_list_field_reconciles(target, monkeypatch):
    """Regression: a NULL parent column named like a list field ('NoneType' object has no attribute 'append')."""
    import duckdb

    with small_sandbox() as box:
        one, many, none = box.ids("clients")[:3]
        box.patch("clients", one, jsic_business_category_kbn="E")          # one value: still the child table
        box.patch("clients", many, jsic_business_category_kbn=["E", "G"])
        box.patch("clients", none, jsic_business_category_kbn=None)
        run_hotprofile(box, target, tables=["clients"])
        assert client_lists(target, one)["jsic"] == ["E"] and client_lists(target, none)["jsic"] == []
        assert "jsic_business_category_kbn" not in column_types(target, "clients")
        kept = {i: client_lists(target, i) for i in (one, many, none)}
        # a warehouse loaded before list fields always became child tables has a parent column of that name
        with duckdb.connect(target.duckdb_path) as con:
            con.execute("ALTER TABLE hotprofile.clients ADD COLUMN jsic_business_category_kbn VARCHAR")
        for row_id in (one, many, none):
            box.delete("clients", row_id)
        run_reconcile(box, target, monkeypatch, tables=["clients"])
        assert {r[0] for r in query(target, "SELECT id FROM hotprofile.clients WHERE is_deleted")} == {one, many, none}
        assert {i: client_lists(target, i) for i in (one, many, none)} == kept


# --- types ------------------------------------------------------------------------------------------------


def column_types(target, table: str) -> dict[str, str]:
    return dict(query(target, "SELECT column_name, data_type FROM information_schema.columns "
                              f"WHERE table_schema = 'hotprofile' AND table_name = '{table}'"))


def test_types(sb, target):
    client = sb.ids("clients")[0]
    with sb.store.lock:                          # what the spec promises: an integer corporate number, a numeric value
        sb.store.rows["clients"][client].update(corporate_number=123456789012, latitude="", longitude="",
                                                items=[{"label": "従業員数", "value": 120}],
                                                brand_new_field="新しい項目")
        sb.store.version += 1
    run_hotprofile(sb, target)
    clients, leads, cards = (column_types(target, t) for t in TABLES)
    for types, ints in ((clients, ["id"]),
                        (leads, ["id", "client_id", "organization_id", "owner_user_id", "pref_id", "lead_source_kbn_id"]),
                        (cards, ["id", "pref_id", "lead_source_kbn_id"])):
        assert {types[c] for c in ints} == {"BIGINT"}
        assert types["created_at"] == types["updated_at"] == types["deleted_at"] == "TIMESTAMP WITH TIME ZONE"
        assert types["latitude"].startswith("DECIMAL") and types["longitude"].startswith("DECIMAL")
        assert types["is_deleted"] == "BOOLEAN"
    for types, texts in ((clients, ["corporate_number", "zip", "main_tel", "user_code"]),
                         (leads, ["customer_id", "zip", "tel", "fax", "extension", "mobile_tel"]),
                         (cards, ["zip", "tel", "fax", "request_key", "mobile_tel"])):
        assert {types[c] for c in texts} == {"VARCHAR"}
    assert leads["trade_on"] == cards["trade_on"] == "DATE"
    assert leads["not_mail_flg"] == "VARCHAR" and leads["not_mail_flg_bool"] == "BOOLEAN"
    assert clients["brand_new_field"] == "VARCHAR"
    assert query(target, f"SELECT corporate_number, latitude, longitude, brand_new_field FROM hotprofile.clients "
                         f"WHERE id = {client}") == [("0123456789012", None, None, "新しい項目")]
    assert query(target, f"SELECT i.label, i.value FROM hotprofile.clients c JOIN hotprofile.clients__items i "
                         f"ON i._dlt_parent_id = c._dlt_id WHERE c.id = {client}") == [("従業員数", "120")]
    # latitude: '' → NULL, numbers exact
    api_leads = {r["id"]: r for r in sb.expected("leads")}
    got = dict(query(target, "SELECT id, latitude FROM hotprofile.leads"))
    assert got == {i: (Decimal(r["latitude"]) if r["latitude"] else None) for i, r in api_leads.items()}
    # check boxes: raw kept, boolean derived
    flags = query(target, "SELECT id, not_mail_flg, not_mail_flg_bool, important_customer_flg_bool FROM hotprofile.leads")
    assert {(raw, flag) for _, raw, flag, _ in flags} == {(FLAG_OFF, False), (FLAG_ON, True)}
    assert {r[0]: r[3] for r in flags} == {i: r["important_customer_flg"] == FLAG_ON for i, r in api_leads.items()}
    # trade_on is the Japan calendar day as given
    got = dict(query(target, "SELECT id, strftime(trade_on, '%Y/%m/%d') FROM hotprofile.business_cards"))
    assert got == {r["id"]: r["trade_on"] for r in sb.expected("business_cards")}
    # lists as child tables, in order
    lead = next(r for r in sb.expected("leads") if len(r["tags"]) > 1 and r["organization_hierarchy"])
    for field, kind in (("tags", "VARCHAR"), ("tag_ids", "BIGINT"), ("organization_hierarchy", "VARCHAR"),
                        ("user_names", "VARCHAR"), ("interest_product_type_ids", "BIGINT")):
        assert column_types(target, f"leads__{field}")["value"] == kind
    got = query(target, "SELECT t.value FROM hotprofile.leads l JOIN hotprofile.leads__tags t ON t._dlt_parent_id = l._dlt_id "
                        f"WHERE l.id = {lead['id']} ORDER BY t._dlt_list_idx")
    assert [v for (v,) in got] == lead["tags"]
    got = query(target, "SELECT h.value FROM hotprofile.leads l JOIN hotprofile.leads__organization_hierarchy h "
                        f"ON h._dlt_parent_id = l._dlt_id WHERE l.id = {lead['id']} ORDER BY h._dlt_list_idx")
    assert [v for (v,) in got] == lead["organization_hierarchy"]
    assert column_types(target, "business_cards__tag_ids")["value"] == "BIGINT"
    assert column_types(target, "leads__items") == column_types(target, "clients__items")


# --- backfill, start date, paths, errors ------------------------------------------------------------


@pytest.mark.parametrize("table", TABLES)
def test_backfill_reloads_a_window_and_leaves_cursors(sb, target, table):
    run_hotprofile(sb, target, tables=[table])
    kept = cursors(target)[table]
    stamps = sorted(jst_to_utc(r["updated_at"]) for r in sb.expected(table))
    start, end = stamps[len(stamps) // 3], stamps[2 * len(stamps) // 3]
    sb.server.clear_requests()
    result = run_hotprofile(sb, target, tables=[table], window=Window(start, end))
    call = sb.server.requests_to(CALLS[table])[0].query
    if table == "business_cards":
        assert call["search[from_updated_on]"] == (start + JST_OFFSET).strftime("%Y/%m/%d")
        assert call["search[to_updated_on]"] == (end - timedelta(seconds=1) + JST_OFFSET).strftime("%Y/%m/%d")
        assert rows_loaded(result, table) == len([s for s in stamps if start <= s < end])
    else:
        assert call["search[from_datetime_updated_on]"] == (start + JST_OFFSET).strftime("%Y/%m/%d %H:%M:%S")
        assert call["search[to_datetime_updated_on]"] == (end + JST_OFFSET).strftime("%Y/%m/%d %H:%M:%S")
        assert rows_loaded(result, table) == len([s for s in stamps if start <= s < end])
    assert cursors(target)[table] == kept


@pytest.mark.parametrize("table", TABLES)
def test_start_date_bounds_the_first_load(sb, target, table):
    stamps = sorted(jst_to_utc(r["updated_at"]) for r in sb.expected(table))
    start = stamps[len(stamps) // 2]
    result = run_hotprofile(sb, target, tables=[table], settings=hp_settings(sb, start_date=start))
    assert rows_loaded(result, table) == len([s for s in stamps if s >= start])


def test_call_paths_are_configurable(sb, target):
    paths = {"clients": "/rest_api/v1/clients/get_entry_list", "leads": "/rest_api/v1/leads/get_entry_list"}
    run_hotprofile(sb, target, tables=["clients", "leads"], settings=hp_settings(sb, paths=paths))
    assert not sb.server.requests_to(CALLS["clients"]) and not sb.server.requests_to(CALLS["leads"])
    assert len(sb.server.requests_to(paths["leads"])) == 5
    assert warehouse(target, "leads") == api(sb, "leads")
    with pytest.raises(ConfigError, match="sources.hotprofile.clients_path"):
        run_hotprofile(sb, target, settings=hp_settings(sb, paths={"deals": "/x"}))
    with pytest.raises(ConfigError, match="clients_path"):
        run_hotprofile(sb, target, settings=hp_settings(sb, paths={"clients": "https://x/y"}))


@pytest.mark.parametrize("table", ["leads", "business_cards"])
def test_a_500_on_the_first_page_is_retried_and_a_lasting_one_names_the_table(sb, target, table):
    sb.server.faults.add("500", path=CALLS[table], times=1)
    run_hotprofile(sb, target, tables=[table], client=no_sleep_hotprofile_client(sb))
    assert warehouse(target, table) == api(sb, table)
    sb.server.faults.add("500", path=CALLS[table], times=10_000)
    with pytest.raises(ApiError, match=rf"^{table}: HotProfile answered HTTP 500, 7 attempts \(POST /\S+\): "
                                       "the next run reads it again"):
        run_hotprofile(sb, target, tables=[table], client=no_sleep_hotprofile_client(sb))


@pytest.mark.parametrize("table", TABLES)
def test_200_without_the_table_key_is_an_error(table):
    from sources.hotprofile.tables import TABLES as REGISTRY

    class Stub:
        def post(self, path, params, **kw):
            return {"errors": [{"message": "メンテナンス中"}]}

    with pytest.raises(ApiError, match=f"without a '{table}' list"):
        next(REGISTRY[table].paging(Stub(), REGISTRY[table], {}))


def test_numbered_paging_stops_when_the_api_ignores_page_numbers():
    from sources.hotprofile.paginators import numbered_pages
    from sources.hotprofile.tables import TABLES as REGISTRY

    table = replace(REGISTRY["business_cards"], page_size=2)

    class SamePage:
        calls = 0

        def post(self, path, params, **kw):
            self.calls += 1
            return {"business_cards": [{"id": 1}, {"id": 2}],
                    "pages": {"current_number": 1, "display_number": 2, "total_count": 10, "total_number": 5}}

    stub = SamePage()
    with pytest.raises(ApiError, match="page\\[number\\] ignored"):
        list(numbered_pages(stub, table, {}))
    assert stub.calls == 2


# --- paging by the API's totals ----------------------------------------------------------------------------


def small_sandbox(**kw):
    return HotProfileSandbox(seed=21, clients=60, leads=60, business_cards=60, api_key=HP_KEY, rate=None, **kw)


@pytest.mark.parametrize("table", TABLES)
def test_a_server_that_serves_fewer_rows_a_page_loses_nothing(target, table):
    with small_sandbox(page_cap={table: 25}) as box:
        result = run_hotprofile(box, target, tables=[table])
        assert rows_loaded(result, table) == 60
        assert warehouse(target, table) == api(box, table)
        calls = box.server.requests_to(CALLS[table])
        assert len(calls) == 3                                     # 25 + 25 + 10, ended by total_count
        assert {c.query["page[display_number]"] for c in calls} == {str(PAGE[table])}
        ids = box.ids(table)
        if table == "business_cards":
            assert [c.query["page[number]"] for c in calls] == ["1", "2", "3"]
        else:
            assert [c.query.get("search[from_id]") for c in calls] == [None, str(ids[24] + 1), str(ids[49] + 1)]


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("cap", [None, 25])
def test_a_server_whose_pages_end_before_its_totals_fails_the_table(target, table, cap):
    import dlt

    from pipelines.runner import TablesFailed

    with small_sandbox(page_cap={table: cap} if cap else None, lost_rows={table: 35}) as box:
        with pytest.raises(TablesFailed) as failed:
            run_hotprofile(box, target, tables=[table])
        message = failed.value.failed[table]
        assert len(message.splitlines()) == 1
        assert message.startswith("HotProfile's pages ended early: ") and "read 25 of 60 rows" in message, message
        assert f"(POST {CALLS[table]}): the table keeps its cursor" in message, message
        # its cursor did not move: the next run reads the whole table again
        state = dlt.pipeline("crm_elt_hotprofile", pipelines_dir=target.pipelines_dir).state
        assert "cursor" not in state["sources"]["hotprofile"]["resources"].get(table, {})


def test_a_lying_server_makes_the_command_exit_non_zero(target, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from pipelines.cli import cli

    with small_sandbox(lost_rows={"clients": 35}) as box:
        monkeypatch.setenv("SOURCES__HOTPROFILE__API_KEY", HP_KEY)
        monkeypatch.setenv("SOURCES__HOTPROFILE__URL_INSTANCE", box.url_instance)
        monkeypatch.setenv("SOURCES__HOTPROFILE__START_DATE", "")
        result = CliRunner().invoke(cli, ["run", "hotprofile", "--tables", "clients", "--duckdb",
                                          str(tmp_path / "cli.duckdb"), "--pipelines-dir", str(tmp_path / "p")])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith("crm-elt: ")]
    assert len(lines) == 1 and lines[0].startswith("crm-elt: hotprofile.clients: HotProfile's pages ended early:") and \
        "read 25 of 60 rows" in lines[0], result.output


@pytest.mark.parametrize("table", TABLES)
def test_rows_inserted_and_deleted_during_a_capped_scan_are_no_failure(target, table):
    with small_sandbox(page_cap={table: 25}) as box:
        ids = box.ids(table)
        served = []

        def during(name, page):
            served.append(name)
            if name == table and len(served) == 2:      # page 1 read: one read row, one unread row go, two arrive
                box.delete(table, ids[3])
                box.delete(table, ids[40])
                box.tick(5)
                box.insert(table)
                box.insert(table)

        box.on_page(during)
        run_hotprofile(box, target, tables=[table])
        box.on_page(None)
        assert len(served) <= 6                                 # no loop
        # no row that was there all along is skipped (a delete hidden by an insert cannot shift one)
        assert set(ids) - {ids[3], ids[40]} <= set(warehouse(target, table))
        # the new rows: read by this scan (keyset, behind it) or by the next run (numbered, in front of it)
        run_hotprofile(box, target, tables=[table])
        assert set(box.ids(table)) <= set(warehouse(target, table))


def test_keyset_paging_without_totals_ends_at_an_empty_page():
    from sources.hotprofile.paginators import keyset_pages
    from sources.hotprofile.tables import TABLES as REGISTRY

    rows = [{"id": i} for i in range(1, 61)]

    class NoTotals:
        calls = 0

        def post(self, path, params, **kw):
            self.calls += 1
            start = params.get("search[from_id]") or 1
            return {"clients": [r for r in rows if r["id"] >= start][:25]}     # 25 a page, no "pages"

    stub = NoTotals()
    got = [r["id"] for page in keyset_pages(stub, REGISTRY["clients"], {}) for r in page]
    assert got == list(range(1, 61)) and stub.calls == 4


def test_keyset_paging_accepts_a_total_count_of_the_whole_query():
    """If total_count ignored search[from_id] (the count of the whole query), the scan still ends cleanly."""
    from sources.hotprofile.paginators import keyset_pages
    from sources.hotprofile.tables import TABLES as REGISTRY

    rows = [{"id": i} for i in range(1, 61)]

    class WholeCount:
        def post(self, path, params, **kw):
            start = params.get("search[from_id]") or 1
            return {"clients": [r for r in rows if r["id"] >= start][:25],
                    "pages": {"total_count": 60, "total_number": 3}}

    got = [r["id"] for page in keyset_pages(WholeCount(), REGISTRY["clients"], {}) for r in page]
    assert got == list(range(1, 61))


def test_numbered_paging_fails_on_a_short_page_before_the_end():
    from sources.hotprofile.paginators import numbered_pages
    from sources.hotprofile.tables import TABLES as REGISTRY

    class Gap:
        def post(self, path, params, **kw):
            page = params["page[number]"]
            served = {1: range(60, 35, -1), 2: range(35, 21, -1)}.get(page, range(0))   # page 2 of 3 is short
            return {"business_cards": [{"id": i} for i in served],
                    "pages": {"total_count": 60, "total_number": 3, "display_number": 25}}

    with pytest.raises(ApiError, match=r"^HotProfile's pages ended early: page 2 sent 14 row\(s\) though "
                                       r"pages.total_count is 60 \(25 a page\); read 39 of 60 rows"):
        list(numbered_pages(Gap(), REGISTRY["business_cards"], {}))


@pytest.mark.parametrize("table", ["clients", "business_cards"])
def test_a_total_count_lower_than_the_rows_sent_is_not_trusted(table):
    """A capped or stale count must not end a scan early: page on to an empty page instead."""
    from sources.hotprofile.tables import TABLES as REGISTRY

    rows = [{"id": i} for i in range(1, 61)]

    class Undercount:
        calls = 0

        def post(self, path, params, **kw):
            self.calls += 1
            if "search[from_id]" in params or params["order[type]"] == "asc":
                start = params.get("search[from_id]") or 1
                served = [r for r in rows if r["id"] >= start][:25]
            else:
                offset = (params["page[number]"] - 1) * 25
                served = rows[::-1][offset:offset + 25]
            return {table: served, "pages": {"total_count": 20, "total_number": 1}}

    stub = Undercount()
    got = sorted(r["id"] for page in REGISTRY[table].paging(stub, REGISTRY[table], {}) for r in page)
    assert got == list(range(1, 61)) and stub.calls == 4
