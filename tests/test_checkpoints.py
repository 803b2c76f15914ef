"""Long loads checkpoint: every ``checkpoint_minutes`` the run loads what it read and commits state, then
goes on, so a killed run loses at most one segment and the rerun continues from there."""
from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace

import duckdb
import pytest

from conftest import PD_TOKEN, pd_settings, query, run_pipedrive
from pipelines.runlog import read_runs
from pipelines.runner import Target
from truth import assert_pipedrive_exact


def test_a_first_load_in_segments_is_exact_and_one_run(small_env, target):
    sb, _ = small_env
    # the per-deal phase takes ~2 s (160 calls of 0.2 s, 16 in flight): several 0.6 s segments
    sb.server.faults.add("slow", path=r"/(flow|participants)$", delay=0.2, times=10_000)
    tables = ("deals", "dealflow", "deal_participants", "deal_products")
    result = run_pipedrive(sb, target, tables=tables, settings=replace(pd_settings(sb), checkpoint_minutes=0.01))
    assert result.stopped is None and result.completed == [t.table for t in result.tables
                                                            if not t.table.endswith("(reconcile)")]
    assert_pipedrive_exact(sb, lambda sql: query(target, sql), tables=tables)
    loads = query(target, "SELECT count(*) FROM pipedrive._dlt_loads WHERE schema_name = 'pipedrive'")[0][0]
    assert loads >= 2, "several segments, each loaded and committed"
    assert len(read_runs(target.pipelines_dir, "crm_elt_pipedrive")) == 1
    flows = sb.server.requests_to(r"^/v1/deals/\d+/flow$")
    # a deal is read again only if its request was in flight when its segment ended (2 x 16 workers ahead)
    deals = len(sb.expected("deals"))
    assert len({r.path for r in flows}) == deals and len(flows) - deals <= 32 * loads


def test_a_bulk_update_larger_than_a_page_does_not_send_segments_back_forever(target):
    """250 deals stamped in one second, pages of 100, a checkpoint due after every page: a segment that
    resumes at that second reads on until it has passed it."""
    from sandbox.pipedrive import PipedriveSandbox

    def too_long(*_):
        raise TimeoutError("the scan went round in circles")

    with PipedriveSandbox(seed=5, deals=250, token=PD_TOKEN, burst=10_000, page_cap=100) as sb:
        for deal in sb.live("deals"):
            sb.update("deals", deal["id"], update_time="2024-12-20T10:00:00Z")
        previous = signal.signal(signal.SIGALRM, too_long)
        signal.alarm(120)
        try:
            result = run_pipedrive(sb, target, tables=["deals"],
                                   settings=replace(pd_settings(sb), checkpoint_minutes=1e-6))
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
        assert result.stopped is None and "deals" in result.completed
        assert_pipedrive_exact(sb, lambda sql: query(target, sql), tables=("deals",))
        assert len(sb.server.requests_to(r"^/api/v2/deals$")) < 20


@pytest.fixture
def small_pipedrive(monkeypatch):
    from sandbox.pipedrive import PipedriveSandbox

    # pages of 30 rows: the CDC lists take several pages, so a checkpoint can fall inside one
    with PipedriveSandbox(seed=11, deals=120, token=PD_TOKEN, burst=10_000, page_cap=30) as sb:
        for key, value in {"SOURCES__PIPEDRIVE__API_TOKEN": PD_TOKEN, "SOURCES__PIPEDRIVE__BASE_URL": sb.base_url,
                           "SOURCES__PIPEDRIVE__RATE_LIMIT_BURST": "10000",
                           "SOURCES__PIPEDRIVE__CHECKPOINT_MINUTES": "0.05"}.items():
            monkeypatch.setenv(key, value)
        for key in ("COMPANY_DOMAIN", "START_DATE"):
            monkeypatch.delenv(f"SOURCES__PIPEDRIVE__{key}", raising=False)
        yield sb


def wait_for(sb, run: subprocess.Popen, done, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.01)


def test_a_first_load_killed_twice_resumes_for_well_under_60_percent_of_its_requests(small_pipedrive, tmp_path):
    """SIGKILL inside a CDC list (activities), then inside the per-deal phase: each rerun goes on from the
    last checkpoint (the list from the newest update_time it had loaded, the children from their queues)."""
    sb = small_pipedrive
    full = Target("duckdb", str(tmp_path / "reference.duckdb"), str(tmp_path / "reference-state"))
    run_pipedrive(sb, full, settings=pd_settings(sb))
    full_cost, full_pages = len(sb.server.requests), len(sb.server.requests_to(r"^/api/v2/activities$"))
    assert full_pages >= 8
    sb.server.clear_requests()

    exe = shutil.which("crm-elt")
    command = [*([exe] if exe else [sys.executable, "-c", "from pipelines.cli import main; main()"]),
               "run", "pipedrive", "--quiet", "--duckdb", str(tmp_path / "crm.duckdb"),
               "--pipelines-dir", str(tmp_path / "state")]

    # 1. activities pages of 0.5 s (longer than a 3 s segment): killed a page after a segment resumed it
    sb.server.faults.add("slow", path=r"^/api/v2/activities$", delay=0.5, times=10_000)
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    pages = lambda: sb.server.requests_to(r"^/api/v2/activities$")      # noqa: E731
    resumed = lambda: [r for r in pages() if r.query.get("updated_since")]   # noqa: E731
    wait_for(sb, run, lambda: resumed() and pages()[-1] is not resumed()[0])
    run.send_signal(signal.SIGKILL)                   # no cleanup at all: only what was committed survives
    run.wait(timeout=30)
    assert run.returncode == -signal.SIGKILL and resumed()
    position = resumed()[0].query["updated_since"]
    sb.server.faults.clear()
    sb.server.clear_requests()

    # 2. the rerun goes on from that position; killed again in the per-deal phase (requests of 0.4 s)
    sb.server.faults.add("slow", path=r"/(flow|participants)$", delay=0.4, times=10_000)
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for(sb, run, lambda: len(sb.server.requests_to(r"/participants$")) >= 100)
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=30)
    assert run.returncode == -signal.SIGKILL
    assert pages()[0].query.get("updated_since") == position and len(pages()) < full_pages
    killed_cost = len(sb.server.requests)
    sb.server.clear_requests()

    # 3. the last rerun only reads what no checkpoint had committed
    again = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert again.returncode == 0, again.stderr
    resumed_cost = len(sb.server.requests)
    assert killed_cost >= 0.5 * full_cost
    assert resumed_cost < 0.6 * full_cost, (resumed_cost, full_cost)
    with duckdb.connect(str(tmp_path / "crm.duckdb"), read_only=True) as con:
        assert_pipedrive_exact(sb, lambda sql: con.execute(sql).fetchall())


def test_a_long_hotprofile_first_load_resumes_mid_table_from_the_next_id(target):
    from sandbox.hotprofile import HotProfileSandbox

    from conftest import HP_KEY, hp_settings, run_hotprofile
    from truth import assert_hotprofile_exact

    with HotProfileSandbox(seed=8, clients=40, leads=800, business_cards=20, api_key=HP_KEY, rate=None) as sb:
        sb.server.faults.add("slow", path=r"/leads/", delay=0.1, times=10_000)      # 8 pages of 100: ~0.8 s
        result = run_hotprofile(sb, target, settings=replace(hp_settings(sb), checkpoint_minutes=0.004))   # 0.24 s
        assert result.stopped is None
        assert_hotprofile_exact(sb, lambda sql: query(target, sql))
        pages = sb.server.requests_to(r"/leads/")
        starts = [r.query.get("search[from_id]") for r in pages]
        # no page is read twice; a checkpoint right after the last page costs one empty page
        assert len(pages) == len(set(starts)) and 8 <= len(pages) <= 9, starts
        assert query(target, "SELECT count(DISTINCT _dlt_load_id) FROM hotprofile.leads")[0][0] >= 2, \
            "the leads table itself was loaded in several segments"
        again = run_hotprofile(sb, target, settings=hp_settings(sb))               # the cursor covers every row
        assert {t.table: t.rows for t in again.tables}["leads"] == 0


def test_a_long_pipedrive_cdc_scan_resumes_mid_table_from_its_newest_update_time(small_env, target, monkeypatch):
    from sources.pipedrive.tables import TABLES

    sb, _ = small_env
    # small pages, slow: the activities list (160 rows) and both deals lists take several segments
    monkeypatch.setitem(TABLES, "activities", replace(TABLES["activities"], page_size=20))
    monkeypatch.setitem(TABLES, "deals", replace(TABLES["deals"], page_size=10))
    sb.server.faults.add("slow", path=r"^/api/v2/(activities|deals(/archived)?)$", delay=0.08, times=10_000)
    tables = ("deals", "activities")
    result = run_pipedrive(sb, target, tables=tables, settings=replace(pd_settings(sb), checkpoint_minutes=0.004))
    assert result.stopped is None
    assert_pipedrive_exact(sb, lambda sql: query(target, sql), tables=tables)
    for table, path, size in (("activities", r"^/api/v2/activities$", 20),
                              ("deals", r"^/api/v2/deals(/archived)?$", 10)):
        loads = query(target, f"SELECT count(DISTINCT _dlt_load_id) FROM pipedrive.{table}")[0][0]
        assert loads >= 2, f"{table} itself was loaded in several segments"
        pages = [r for r in sb.server.requests_to(path) if "ids" not in r.query]
        rows = len(sb.expected(table))
        # a resumed segment re-asks only for the second it stopped in (one extra page each, at most)
        assert len(pages) <= rows // size + 2 + 2 * loads, (table, len(pages), loads)
    again = run_pipedrive(sb, target, tables=tables, settings=pd_settings(sb))   # the cursors cover every row
    rows = {t.table: t.rows for t in again.tables}
    assert rows["activities"] == 0 and rows["deals"] == 0, rows
    assert_pipedrive_exact(sb, lambda sql: query(target, sql), tables=tables)


def test_a_segment_ends_after_its_share_of_rows_so_load_memory_stays_flat(target, monkeypatch):
    """However large the first load, a segment holds at most SEGMENT_ROWS rows (here 150) plus the rest of
    its page (pages of 50) or deal: the load step merges that many per table, not the whole account."""
    import sources._incremental as incremental
    from sandbox.pipedrive import PipedriveSandbox

    monkeypatch.setattr(incremental, "SEGMENT_ROWS", 150)
    tables = ("deals", "persons", "activities", "dealflow")
    with PipedriveSandbox(seed=5, deals=80, token=PD_TOKEN, burst=10_000, page_cap=50) as sb:
        result = run_pipedrive(sb, target, tables=tables)
        assert result.stopped is None
        assert_pipedrive_exact(sb, lambda sql: query(target, sql), tables=tables)
    rows = sum(t.rows for t in result.tables)
    loads = query(target, "SELECT count(*) FROM pipedrive._dlt_loads WHERE schema_name = 'pipedrive'")[0][0]
    assert loads >= rows // 200 >= 4, (rows, loads)
    assert len(read_runs(target.pipelines_dir, "crm_elt_pipedrive")) == 1
