"""Pipedrive deletes of every kind reach the warehouse as ``is_deleted`` + ``deleted_at``, values kept."""
from __future__ import annotations

from datetime import timedelta

import pytest

from conftest import PD_TOKEN, pd_settings, query, run_pipedrive
from sandbox.pipedrive import PipedriveSandbox
from sources._incremental import parse_time


@pytest.fixture
def small_sb():
    with PipedriveSandbox(seed=5, deals=40, token=PD_TOKEN, burst=10_000) as sb:
        yield sb


def row(target, table: str, key, columns: str = "is_deleted, deleted_at") -> tuple:
    key_sql = f"'{key}'" if isinstance(key, str) else key
    return query(target, f'SELECT {columns} FROM pipedrive."{table}" WHERE id = {key_sql}')[0]


def live_id(sb, table: str):
    return next(r["id"] for r in sb.live(table) if not r.get("is_deleted"))


def test_hidden_deletes_wait_for_the_scan_and_keep_their_last_values(small_sb, target):
    sb = small_sb
    run_pipedrive(sb, target)
    sb.tick(60)
    victims = {table: live_id(sb, table) for table in
               ("persons", "organizations", "activities", "products", "notes", "files", "leads")}
    names = {"persons": row(target, "persons", victims["persons"], "name")[0]}
    for table, key in victims.items():
        sb.delete(table, key)

    quiet = run_pipedrive(sb, target)                    # default: the scan is not due yet (24 h)
    assert not any(t.table.endswith("(reconcile)") for t in quiet.tables)
    assert all(row(target, table, key)[0] is False for table, key in victims.items())

    result = run_pipedrive(sb, target, settings=pd_settings(sb, reconcile_every_hours=0))
    for table, key in victims.items():
        deleted, deleted_at = row(target, table, key)
        assert deleted is True and deleted_at is not None, table
    assert row(target, "persons", victims["persons"], "name")[0] == names["persons"]     # not blanked
    scans = {t.table: t for t in result.tables if t.table.endswith("(reconcile)")}
    assert set(scans) == {f"{t} (reconcile)" for t in ("deals", "persons", "organizations", "activities",
                                                         "products", "leads", "notes", "files")}
    assert scans["persons (reconcile)"].requests == 1 and scans["persons (reconcile)"].tokens == 10
    assert scans["leads (reconcile)"].requests == 2               # leads and archived leads


def test_listed_deletes_arrive_with_the_run_that_sees_them(target):
    with PipedriveSandbox(seed=6, deals=30, token=PD_TOKEN, burst=10_000, list_deleted=True) as sb:
        run_pipedrive(sb, target)
        sb.tick(60)
        person = live_id(sb, "persons")
        sb.delete("persons", person)
        run_pipedrive(sb, target)                                # no scan: the list says is_deleted
        deleted, deleted_at = row(target, "persons", person)
        assert deleted is True and deleted_at == sb.clock


def test_children_follow_a_deleted_deal_and_a_purged_one(small_sb, target):
    sb = small_sb
    run_pipedrive(sb, target)
    with_children = [d["id"] for d in sb.live("deals") if not d["is_deleted"]
                     and any(p["deal_id"] == d["id"] for p in sb.live("deal_products"))]
    seen_deleted, purged = with_children[:2]
    sb.tick(60)
    sb.delete("deals", seen_deleted)
    run_pipedrive(sb, target)
    when = parse_time(next(d for d in sb.live("deals") if d["id"] == seen_deleted)["update_time"])
    for table in ("deal_products", "dealflow", "deal_participants"):
        marks = query(target, f'SELECT DISTINCT is_deleted, deleted_at FROM pipedrive."{table}" '
                              f"WHERE deal_id = {seen_deleted}")
        assert marks == [(True, when)], table

    sb.delete("deals", purged)
    sb.tick(31 * 86400)                                          # purged before any run saw it deleted
    assert purged not in {d["id"] for d in sb.live("deals")}
    run_pipedrive(sb, target, reconcile=True)
    assert row(target, "deals", purged)[0] is True
    for table in ("deal_products", "dealflow", "deal_participants"):
        assert {r[0] for r in query(target, f'SELECT is_deleted FROM pipedrive."{table}" WHERE deal_id = {purged}')} \
            == {True}, table
    marked = query(target, f"SELECT count(*) FROM pipedrive.deal_products WHERE deal_id IN ({seen_deleted}, {purged})")
    assert marked[0][0] > 0

    run_pipedrive(sb, target, tables=["deal_products"], full_refresh=["deal_products"])
    assert query(target, f"SELECT count(*) FROM pipedrive.deal_products WHERE deal_id = {purged}") == [(0,)]
    assert {r["id"] for r in sb.live("deal_products")} == \
        {r[0] for r in query(target, "SELECT id FROM pipedrive.deal_products")}


def test_a_line_item_removed_from_a_deal_is_marked_not_dropped(small_sb, target):
    sb = small_sb
    run_pipedrive(sb, target)
    item = next(p for p in sb.live("deal_products") if p["deal_id"] in
                {d["id"] for d in sb.live("deals") if not d["is_deleted"]})
    sb.tick(60)
    sb.delete("deal_products", item["id"])
    run_pipedrive(sb, target)
    deleted, deleted_at, quantity = row(target, "deal_products", item["id"], "is_deleted, deleted_at, quantity")
    assert deleted is True and deleted_at is not None and quantity == pytest.approx(item["quantity"])


def test_rows_created_or_changed_during_the_scan_are_never_marked(small_sb, target, monkeypatch):
    from sources.pipedrive import deletes

    sb = small_sb
    run_pipedrive(sb, target)
    sb.tick(60)
    changed = live_id(sb, "persons")
    created = []
    scan = deletes.reconcile_scan

    def scan_with_traffic(table, client):
        for page in scan(table, client):
            if table.name == "persons" and not created:
                sb.tick(1)
                created.append(sb.insert("persons"))
                sb.update("persons", changed, name="Changed Mid Scan")
            yield page

    monkeypatch.setattr("sources.pipedrive.readers.reconcile_scan", scan_with_traffic)
    run_pipedrive(sb, target, reconcile=True)
    assert query(target, "SELECT count(*) FROM pipedrive.persons WHERE is_deleted") == [(0,)]
    monkeypatch.undo()
    run_pipedrive(sb, target)
    assert row(target, "persons", created[0])[0] is False
    assert row(target, "persons", changed, "name, is_deleted") == ("Changed Mid Scan", False)


def test_a_restored_row_comes_back_live(small_sb, target):
    sb = small_sb
    run_pipedrive(sb, target)
    person = live_id(sb, "persons")
    sb.tick(60)
    sb.delete("persons", person)
    run_pipedrive(sb, target, reconcile=True)
    assert row(target, "persons", person)[0] is True
    sb.data.persons[person]["is_deleted"] = False               # restored in Pipedrive (within 30 days)
    sb.data._sync_deleted("persons", sb.data.persons[person])
    run_pipedrive(sb, target, reconcile=True)
    assert row(target, "persons", person) == (False, None)


def test_first_load_needs_no_scan_and_the_scan_runs_again_when_due(small_sb, target):
    sb = small_sb
    first = run_pipedrive(sb, target)
    assert not any(t.table.endswith("(reconcile)") for t in first.tables)
    later = pd_settings(sb, reconcile_every_hours=24)
    import sources._incremental as inc

    real = inc.RunContext.__post_init__

    def tomorrow(self):
        real(self)
        self.started_at += timedelta(hours=25)

    from unittest import mock
    with mock.patch.object(inc.RunContext, "__post_init__", tomorrow):
        due = run_pipedrive(sb, target, settings=later)
    assert any(t.table == "persons (reconcile)" for t in due.tables)


def test_a_restored_deal_brings_its_children_back(small_sb, target):
    sb = small_sb
    run_pipedrive(sb, target)
    deal = next(d["id"] for d in sb.live("deals") if not d["is_deleted"]
                and any(p["deal_id"] == d["id"] for p in sb.live("deal_products")))
    sb.tick(60)
    sb.delete("deals", deal)
    run_pipedrive(sb, target)
    sb.tick(60)
    sb.update("deals", deal, status="open")                      # restored within Pipedrive's 30 days
    run_pipedrive(sb, target)
    flow = {row["data"]["id"] for row in sb.live("flow") if row["data"].get("item_id") == deal}
    for table, live in (("dealflow", flow),
                        ("deal_products", {p["id"] for p in sb.live("deal_products") if p["deal_id"] == deal})):
        rows = dict(query(target, f'SELECT id, is_deleted FROM pipedrive."{table}" WHERE deal_id = {deal}'))
        assert {k for k, deleted in rows.items() if not deleted} == live, table
