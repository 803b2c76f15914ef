"""The analytics views, against hand-computed expectations, on DuckDB and on PostgreSQL.

The emulator's generated deals and activities are deleted (deleted rows are left out of every view) and a
small history is scripted through its API on its own clock: a re-entry into a stage, a pipeline move, a
deleted deal, a deal with no flow, a deal whose history starts with a change, a won and a lost deal. The
real pipeline loads it; the expected rows below are worked out by hand from the script.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import duckdb
import pytest
from click.testing import CliRunner

from conftest import requires_postgres, run_hotprofile, run_pipedrive
from pipelines.cli import cli
from pipelines.runner import Target
from pipelines.views import render, source_views

H = 3600
SALES, PARTNERS = 1, 2            # the emulator's pipelines: stages 1-5 (Sales), 6-10 (Partners), 11-15


@dataclass
class Script:
    t: dict[str, datetime]        # moments of the script, by name
    ids: dict[str, int]           # deal ids, by letter
    field: str = ""               # a custom deal field's key (40-hex hash), changed on deal A
    activities: tuple = ()


def at(sb, name: str, script: Script) -> None:
    script.t[name] = sb.clock


def new_deal(sb, stage_id: int, owner_id: int, value: float = 1000) -> int:
    return sb.insert("deals", stage_id=stage_id, owner_id=owner_id, value=value, currency="EUR", status="open",
                     close_time=None, won_time=None, lost_time=None, lost_reason=None, is_archived=False,
                     person_id=1, org_id=1)


def script_history(sb) -> Script:
    s = Script({}, {})
    for deal in sb.live("deals"):
        if not deal["is_deleted"]:
            sb.delete("deals", deal["id"])
    for activity in sb.live("activities"):
        sb.delete("activities", activity["id"])
    # A: 1 → 2 → 1 (re-entry) → 3, won; 10 h, 20 h, 5 h, 40 h
    sb.tick(H)
    at(sb, "A0", s); s.ids["A"] = a = new_deal(sb, 1, owner_id=1, value=5000)
    sb.tick(10 * H); at(sb, "A1", s); sb.update("deals", a, stage_id=2)
    sb.tick(20 * H); at(sb, "A2", s); sb.update("deals", a, stage_id=1)
    sb.tick(5 * H); at(sb, "A3", s); sb.update("deals", a, stage_id=3)
    s.field = sb.custom_field_keys("deal")["Region notes"]
    sb.tick(H); sb.update("deals", a, **{s.field: "north"})
    sb.tick(39 * H); at(sb, "A4", s); sb.update("deals", a, status="won")
    # B: Sales 2 → Partners 7 (pipeline move) → 8, open; 8 h, 16 h
    sb.tick(H); at(sb, "B0", s); s.ids["B"] = b = new_deal(sb, 2, owner_id=2)
    sb.tick(8 * H); at(sb, "B1", s); sb.update("deals", b, stage_id=7)
    sb.tick(16 * H); at(sb, "B2", s); sb.update("deals", b, stage_id=8)
    # C: 1 → 2, then deleted: in no view
    s.ids["C"] = c = new_deal(sb, 1, owner_id=3)
    sb.tick(2 * H); sb.update("deals", c, stage_id=2)
    sb.tick(H); sb.delete("deals", c)
    # D: no flow at all (an imported deal), open in stage 4
    sb.tick(H); at(sb, "D0", s); s.ids["D"] = d = new_deal(sb, 4, owner_id=1)
    with sb.data.lock:
        sb.data.flow[d] = []
    # E: its history starts with the change 1 → 2 (no creation event); 6 h in stage 1, open in 2
    sb.tick(H); at(sb, "E0", s); s.ids["E"] = e = new_deal(sb, 1, owner_id=2)
    sb.tick(6 * H); at(sb, "E1", s); sb.update("deals", e, stage_id=2)
    with sb.data.lock:
        sb.data.flow[e] = [ev for ev in sb.data.flow[e] if ev["old_value"] is not None]
    # F: 1 → 2, lost; 12 h, 4 h
    sb.tick(H); at(sb, "F0", s); s.ids["F"] = f = new_deal(sb, 1, owner_id=2, value=700)
    sb.tick(12 * H); at(sb, "F1", s); sb.update("deals", f, stage_id=2)
    sb.tick(4 * H); at(sb, "F2", s); sb.update("deals", f, status="lost", lost_reason="Too expensive")
    # activities: (owner, type, due date, done, deal)
    s.activities = ((1, "call", "2024-12-02", True, a), (1, "call", "2024-12-04", False, d),
                    (1, "meeting", "2099-06-03", False, b), (2, "call", "2024-12-08", True, b),
                    (2, "email", "2024-12-09", False, None))
    for owner, kind, due, done, deal in s.activities:
        sb.insert("activities", owner_id=owner, type=kind, due_date=due, done=done, deal_id=deal)
    gone = sb.insert("activities", owner_id=1, type="call", due_date="2024-12-03", done=False, deal_id=None)
    sb.delete("activities", gone)
    sb.insert("activities", owner_id=1, type="task", due_date=None, done=False, deal_id=None)
    sb.tick(60)
    return s


@pytest.fixture
def scripted():
    from sandbox.pipedrive import PipedriveSandbox

    from conftest import PD_TOKEN

    with PipedriveSandbox(seed=11, deals=6, token=PD_TOKEN, burst=10_000) as sb:
        yield sb, script_history(sb)


@contextmanager
def duckdb_warehouse(tmp_path, monkeypatch):
    target = Target("duckdb", str(tmp_path / "crm.duckdb"), str(tmp_path / "pipelines"))

    def fetch(sql):
        with duckdb.connect(target.duckdb_path, read_only=True) as con:
            return con.execute(sql).fetchall()
    yield target, fetch


@contextmanager
def postgres_warehouse(tmp_path, monkeypatch, url):
    import psycopg2

    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", url)
    target = Target("postgres", None, str(tmp_path / "pipelines"))

    def fetch(sql):
        with psycopg2.connect(url) as con, con.cursor() as cur:
            cur.execute("SET TIME ZONE 'UTC'")
            cur.execute(sql)
            return cur.fetchall()
    yield target, fetch


def warehouses():
    return [pytest.param("duckdb", id="duckdb"),
            pytest.param("postgres", id="postgres", marks=requires_postgres)]


@pytest.fixture(params=warehouses())
def warehouse(request, tmp_path, monkeypatch):
    if request.param == "duckdb":
        with duckdb_warehouse(tmp_path, monkeypatch) as found:
            yield found
    else:
        with postgres_warehouse(tmp_path, monkeypatch, request.getfixturevalue("postgres_db")) as found:
            yield found


def utc(moment) -> datetime:
    return moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def hours(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / H


def test_every_view_answers_as_worked_out_by_hand(scripted, warehouse):
    sb, s = scripted
    target, fetch = warehouse
    run_pipedrive(sb, target)
    a, b, c, d, e, f = (s.ids[k] for k in "ABCDEF")
    t = s.t
    now = datetime.now(timezone.utc)

    # deal_stage_history: re-entry, pipeline move, no flow, history from a change; C (deleted) absent
    history = fetch("SELECT deal_id, pipeline_id, stage_id, stage_name, entered_at, left_at, hours_in_stage, "
                    "is_current FROM pipedrive.deal_stage_history ORDER BY deal_id, entered_at")
    rows = [(r[0], r[1], r[2], r[3], utc(r[4]), r[5] and utc(r[5]), r[6], r[7]) for r in history]
    closed = [(r[0], r[1], r[2], r[3], r[4], r[5], round(r[6], 6), r[7]) for r in rows if r[5] is not None]
    assert closed == [
        (a, SALES, 1, "Lead In", t["A0"], t["A1"], 10.0, False),
        (a, SALES, 2, "Qualified", t["A1"], t["A2"], 20.0, False),
        (a, SALES, 1, "Lead In", t["A2"], t["A3"], 5.0, False),
        (a, SALES, 3, "Proposal", t["A3"], t["A4"], 40.0, True),         # won in stage 3: ends at close
        (b, SALES, 2, "Qualified", t["B0"], t["B1"], 8.0, False),
        (b, PARTNERS, 7, "Qualified", t["B1"], t["B2"], 16.0, False),    # moved to Partners
        (e, SALES, 1, "Lead In", t["E0"], t["E1"], 6.0, False),          # from add_time: no creation event
        (f, SALES, 1, "Lead In", t["F0"], t["F1"], 12.0, False),
        (f, SALES, 2, "Qualified", t["F1"], t["F2"], 4.0, True),         # lost in stage 2
    ]
    still_open = [r for r in rows if r[5] is None]
    assert [(r[0], r[1], r[2], r[3], r[4], r[7]) for r in still_open] == [
        (b, PARTNERS, 8, "Proposal", t["B2"], True),
        (d, SALES, 4, "Negotiation", t["D0"], True),                     # no flow: current stage since add_time
        (e, SALES, 2, "Qualified", t["E1"], True),
    ]
    for row in still_open:                                               # to now
        assert math.isclose(row[6], hours(row[4], now), abs_tol=0.1)
    assert c not in {r[0] for r in rows}

    # pipeline_funnel: once per deal and stage; moved on = a later stage of the pipeline, or won
    funnel = {r[2]: r for r in fetch("SELECT pipeline_id, pipeline_name, stage_id, stage_name, order_nr, "
                                     "deals_entered, deals_moved_on, conversion_rate, median_hours_in_stage "
                                     "FROM pipedrive.pipeline_funnel")}
    assert sorted(funnel) == list(range(1, 16))
    expected = {1: (3, 3, 1.0, 8.0),         # A, E, F all reached stage 2 or later; [5, 6, 10, 12] h
                2: (4, 1, 0.25, 8.0),        # A (won) of A, B, E, F; B went to Partners; [4, 8, 20] h
                3: (1, 1, 1.0, 40.0),        # A, won
                4: (1, 0, 0.0, None),        # D, still there
                5: (0, 0, None, None),
                7: (1, 1, 1.0, 16.0),        # B went on to stage 8
                8: (1, 0, 0.0, None)}
    for stage, row in funnel.items():
        entered, moved, rate, median = expected.get(stage, (0, 0, None, None))
        assert row[5:7] == (entered, moved), stage
        assert (row[7] is None and rate is None) or math.isclose(row[7], rate), stage
        assert (row[8] is None and median is None) or math.isclose(row[8], median), stage
    assert funnel[7][:5] == (PARTNERS, "Partners", 7, "Qualified", 2)

    # deal_outcomes: A won, F lost; C deleted
    outcomes = fetch("SELECT deal_id, pipeline_name, owner_name, status, value, currency, days_to_close, "
                     "lost_reason, close_time FROM pipedrive.deal_outcomes ORDER BY deal_id")
    users = dict(fetch("SELECT id, name FROM pipedrive.users"))
    assert [(r[0], r[1], r[2], r[3], r[4], r[5], round(r[6], 6), r[7], utc(r[8])) for r in outcomes] == [
        (a, "Sales", users[1], "won", 5000.0, "EUR", round(75 / 24, 6), None, t["A4"]),
        (f, "Sales", users[2], "lost", 700.0, "EUR", round(16 / 24, 6), "Too expensive", t["F2"]),
    ]

    # win_rate_by_month: month of close_time (UTC) x pipeline x owner
    months = fetch("SELECT month, pipeline_id, owner_id, won, lost, win_rate, won_value "
                   "FROM pipedrive.win_rate_by_month ORDER BY owner_id")
    assert [tuple(r) for r in months] == [
        (t["A4"].date().replace(day=1), SALES, 1, 1, 0, 1.0, 5000.0),
        (t["F2"].date().replace(day=1), SALES, 2, 0, 1, 0.0, 0.0),
    ]

    # deals_current: open deals with names, days in stage and next activity
    person = fetch("SELECT name FROM pipedrive.persons WHERE id = 1")[0][0]
    org = fetch("SELECT name FROM pipedrive.organizations WHERE id = 1")[0][0]
    current = fetch("SELECT id, stage_name, pipeline_name, owner_name, person_name, org_name, days_in_stage, "
                    "next_activity_date, title FROM pipedrive.deals_current ORDER BY id")
    since = {b: t["B2"], d: t["D0"], e: t["E1"]}
    assert [r[:6] for r in current] == [
        (b, "Proposal", "Partners", users[2], person, org),
        (d, "Negotiation", "Sales", users[1], person, org),
        (e, "Qualified", "Sales", users[2], person, org),
    ]
    for row in current:
        assert row[6] in {int((now - since[row[0]]).total_seconds() // 86400) + k for k in (-1, 0)}
        assert row[8]                                   # every deal column is there too
    assert {r[0]: r[7] for r in current} == {b: date(2099, 6, 3), d: date(2024, 12, 4), e: None}

    # activity_summary: ISO weeks (a Sunday belongs to the Monday before), overdue = open and past due
    summary = fetch("SELECT owner_id, week, type, type_name, done, open, overdue FROM pipedrive.activity_summary "
                    "ORDER BY owner_id, week, type")
    assert [tuple(r) for r in summary] == [
        (1, date(2024, 12, 2), "call", "Call", 1, 1, 1),
        (1, date(2099, 6, 1), "meeting", "Meeting", 0, 1, 0),
        (2, date(2024, 12, 2), "call", "Call", 1, 0, 0),
        (2, date(2024, 12, 9), "email", "Email", 0, 1, 1),
    ]

    # deal_changes: a custom field's change under its name, not its hash
    changes = fetch(f"SELECT field, new_value FROM pipedrive.deal_changes WHERE deal_id = {a} "
                    "AND new_value = 'north'")
    assert changes == [("Region notes", "north")]
    assert fetch(f"SELECT field_name FROM pipedrive.dealflow WHERE field_key = '{s.field}' AND deal_id = {a}") \
        == [("Region notes",)]


def test_views_follow_changes_and_renamed_fields(scripted, tmp_path, monkeypatch):
    sb, s = scripted
    with duckdb_warehouse(tmp_path, monkeypatch) as (target, fetch):
        run_pipedrive(sb, target)
        e = s.ids["E"]
        sb.rename_field("deal", s.field, "Sales region")
        sb.tick(H)
        sb.update("deals", e, stage_id=3)
        sb.tick(60)
        run_pipedrive(sb, target)
        history = fetch(f"SELECT stage_id, is_current FROM pipedrive.deal_stage_history WHERE deal_id = {e} "
                        "ORDER BY entered_at")
        assert history == [(1, False), (2, False), (3, True)]
        assert fetch("SELECT deals_entered, deals_moved_on FROM pipedrive.pipeline_funnel WHERE stage_id = 2") \
            == [(4, 2)]
        assert fetch(f"SELECT DISTINCT field FROM pipedrive.deal_changes WHERE deal_id = {s.ids['A']} "
                     "AND new_value = 'north'") == [("Sales region",)]


def test_hotprofile_views_show_live_rows_with_boolean_flags(hotprofile_sb, warehouse):
    target, fetch = warehouse
    lead, other, gone = hotprofile_sb.ids("leads")[:3]
    hotprofile_sb.update("leads", lead, competitor_flg="✓", not_mail_flg="✓", store_flg="ー")
    hotprofile_sb.update("leads", other, competitor_flg="ー", not_mail_flg="ー", store_flg="✓")
    hotprofile_sb.delete("leads", gone)
    client = hotprofile_sb.ids("clients")[0]
    hotprofile_sb.delete("clients", client)
    hotprofile_sb.tick(60)
    run_hotprofile(hotprofile_sb, target)
    flags = fetch(f"SELECT id, is_competitor, no_email, is_store FROM hotprofile.leads_current "
                  f"WHERE id IN ({lead}, {other}, {gone}) ORDER BY id")
    assert [tuple(r) for r in flags] == sorted([(lead, True, True, False), (other, False, False, True)])
    assert fetch("SELECT count(*) FROM hotprofile.leads_current")[0][0] == len(hotprofile_sb.expected("leads"))
    live_clients = {row["id"] for row in hotprofile_sb.expected("clients")}
    assert client not in live_clients
    assert {r[0] for r in fetch("SELECT id FROM hotprofile.clients_current")} == live_clients
    industry = fetch(f"SELECT industry FROM hotprofile.clients_current WHERE id = {min(live_clients)}")[0][0]
    assert industry == next(r for r in hotprofile_sb.expected("clients")
                            if r["id"] == min(live_clients))["business_category_kbn"]


def test_a_run_of_some_tables_creates_the_views_it_can_and_says_nothing(pipedrive_sb, target, caplog):
    run_pipedrive(pipedrive_sb, target, tables=["deals", "stages", "pipelines", "users"])
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
    with duckdb.connect(target.duckdb_path, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM pipedrive.deal_outcomes").fetchone()[0] > 0
        views = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                           "WHERE table_schema = 'pipedrive' AND table_type = 'VIEW'").fetchall()}
    assert "deal_stage_history" not in views and "pipeline_funnel" not in views     # dealflow not loaded
    out = CliRunner().invoke(cli, ["views", "pipedrive", "--duckdb", target.duckdb_path,
                                   "--pipelines-dir", target.pipelines_dir])
    assert out.exit_code == 0, out.output
    assert "pipedrive.deal_outcomes: created" in out.output
    assert "pipedrive.deal_stage_history: skipped, needs dealflow (not in the dataset yet)" in out.output
    assert "pipedrive.pipeline_funnel: skipped, needs deal_stage_history (not in the dataset yet)" in out.output


def test_a_view_that_cannot_be_created_is_a_warning_not_a_failed_run(pipedrive_sb, target, caplog, monkeypatch):
    import pipelines.views as views

    broken = views.View("broken", "SELECT no_such_column FROM deals", frozenset({"deals"}))
    monkeypatch.setattr(views, "source_views", lambda source: (*source_views(source), broken)
                        if source == "pipedrive" else source_views(source))
    result = run_pipedrive(pipedrive_sb, target, tables=["deals", "stages", "pipelines", "users"])
    assert next(t.rows for t in result.tables if t.table == "deals") > 0      # the load stands
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 1 and warned[0].startswith("view pipedrive.broken not created: ")
    assert "\n" not in warned[0]
    out = CliRunner().invoke(cli, ["views", "pipedrive", "--duckdb", target.duckdb_path,
                                   "--pipelines-dir", target.pipelines_dir])
    assert out.exit_code == 1
    assert "pipedrive.deal_outcomes: created" in out.output
    assert "crm-elt: view pipedrive.broken not created: " in out.output


def test_views_are_transpiled_for_other_warehouses():
    """Every view renders for the SQL destinations dlt supports, its tables qualified with the dataset."""

    class Caps:
        def __init__(self, dialect):
            self.sqlglot_dialect = dialect

    class Client:
        def __init__(self, dialect, quote):
            self.capabilities, self.quote = Caps(dialect), quote

        def make_qualified_table_name(self, name):
            return f"{self.quote}analytics{self.quote}.{self.quote}pipedrive{self.quote}.{self.quote}{name}{self.quote}"

    for dialect, quote in (("postgres", '"'), ("snowflake", '"'), ("bigquery", "`"), ("redshift", '"')):
        for view in source_views("pipedrive"):
            sql = render(view, Client(dialect, quote))
            assert sql.startswith(f"CREATE VIEW {quote}analytics{quote}.{quote}pipedrive{quote}.{quote}{view.name}")
            for table in view.reads:
                assert f"{quote}pipedrive{quote}.{quote}{table}{quote}" in sql, (dialect, view.name, table)
