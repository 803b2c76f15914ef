"""SIGINT/SIGTERM to a real `crm-elt run`: the run ends at its next request, loads what it read, keeps
every completed cursor and the per-deal queue, starts no other source, says so in one line and exits
130/143; the next run continues where it stopped and ends exact."""
from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time

import duckdb
import pytest

from pipelines.runlog import read_runs
from truth import assert_pipedrive_exact


def crm_elt(tmp_path, *args: str) -> list[str]:
    exe = shutil.which("crm-elt")
    base = [exe] if exe else [sys.executable, "-c", "from pipelines.cli import main; main()"]
    return [*base, *args, "--duckdb", str(tmp_path / "crm.duckdb"), "--pipelines-dir", str(tmp_path / "state")]


def flow_calls(sb) -> int:
    return len(sb.server.requests_to(r"^/v1/deals/\d+/flow$"))


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_mid_load_loads_what_was_read_and_the_next_run_continues(small_env, tmp_path, sig, code):
    sb, hotprofile = small_env
    sb.server.faults.add("slow", path=r"/flow$", delay=0.05)         # a per-deal phase long enough to interrupt
    run = subprocess.Popen(crm_elt(tmp_path, "run"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while flow_calls(sb) < 20 and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.02)
    run.send_signal(sig)
    out, err = run.communicate(timeout=60)
    assert run.returncode == code, err
    assert err.strip().splitlines()[-1].startswith("crm-elt: pipedrive: interrupted: ") and \
        err.strip().endswith("tables complete; the next run continues"), err
    assert not hotprofile.server.requests, "the next source must not start"

    read_first = flow_calls(sb)
    deals = len(sb.expected("deals"))
    assert 20 <= read_first < deals
    with duckdb.connect(str(tmp_path / "crm.duckdb"), read_only=True) as con:   # what was read is loaded
        assert con.execute("SELECT count(*) FROM pipedrive.deals").fetchone()[0] == deals
        assert con.execute("SELECT count(DISTINCT deal_id) FROM pipedrive.dealflow").fetchone()[0] >= 20
    last = read_runs(str(tmp_path / "state"), "crm_elt_pipedrive")[-1]
    assert last["stopped"].startswith("interrupted by") and \
        {t["table"]: t["complete"] for t in last["tables"]}["deals"] is True
    assert {t["table"]: t["complete"] for t in last["tables"]}["deal_participants"] is False

    if sig == signal.SIGTERM:
        return                   # the same stop path as SIGINT: the resume is checked once
    sb.server.clear_requests()
    again = subprocess.run(crm_elt(tmp_path, "run", "pipedrive", "--quiet"), capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 0, again.stderr
    assert flow_calls(sb) <= deals - read_first + 5      # the deals already read are not asked for again
    with duckdb.connect(str(tmp_path / "crm.duckdb"), read_only=True) as con:
        assert_pipedrive_exact(sb, lambda sql: con.execute(sql).fetchall())


def test_a_signal_during_a_cdc_table_loads_the_tables_before_it_and_the_rerun_is_exact(small_env, tmp_path):
    sb, hotprofile = small_env
    sb.server.faults.add("slow", path=r"^/api/v2/persons$", delay=1.0)      # the persons page is in flight
    run = subprocess.Popen(crm_elt(tmp_path, "run", "pipedrive"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    deadline = time.monotonic() + 60
    while not sb.server.requests_to(r"^/api/v2/persons$") and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.01)
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 130, err
    last = read_runs(str(tmp_path / "state"), "crm_elt_pipedrive")[-1]
    complete = {t["table"]: t["complete"] for t in last["tables"]}
    assert complete["deals"] is True and complete["deal_participants"] is False
    assert not sb.server.requests_to(r"/participants$"), "nothing after the interrupted table was read"
    again = subprocess.run(crm_elt(tmp_path, "run", "pipedrive", "--quiet"), capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 0, again.stderr
    with duckdb.connect(str(tmp_path / "crm.duckdb"), read_only=True) as con:
        assert_pipedrive_exact(sb, lambda sql: con.execute(sql).fetchall())


@pytest.mark.parametrize("step, sig", [
    ("normalize", signal.SIGKILL),       # the extracted package waits: the rerun normalizes and loads it
    ("load", signal.SIGKILL),            # jobs half done: the rerun finishes the package, without copies
    ("load", signal.SIGINT),             # the load finishes first, then the run stops: exit 130
])
def test_a_signal_during_normalize_or_load_loses_nothing(small_env, tmp_path, step, sig):
    sb, _ = small_env
    state = tmp_path / "state" / "crm_elt_pipedrive"
    package = state / "normalize" / "extracted" if step == "normalize" else state / "load" / "normalized"
    tables = ("deals", "dealflow", "persons")
    run = subprocess.Popen(crm_elt(tmp_path, "run", "pipedrive", "--tables", ",".join(tables)),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 90
    while run.poll() is None and time.monotonic() < deadline and \
            not (package.is_dir() and any(package.iterdir())):
        time.sleep(0.001)
    run.send_signal(sig)
    _, err = run.communicate(timeout=90)
    if sig == signal.SIGKILL:
        assert run.returncode == -signal.SIGKILL
    else:
        assert run.returncode == 130, err
        assert err.strip().endswith(f"{len(tables)} tables complete; the next run continues"), err
        with duckdb.connect(str(tmp_path / "crm.duckdb"), read_only=True) as con:    # the load was finished
            assert_pipedrive_exact(sb, lambda sql: con.execute(sql).fetchall(), tables=tables)
    sb.server.clear_requests()
    again = subprocess.run(crm_elt(tmp_path, "run", "pipedrive", "--tables", ",".join(tables), "--quiet"),
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    with duckdb.connect(str(tmp_path / "crm.duckdb"), read_only=True) as con:
        assert_pipedrive_exact(sb, lambda sql: con.execute(sql).fetchall(), tables=tables)
    if step == "load":
        # the package was complete: the rerun is an incremental run (no per-deal call, no full list)
        assert not sb.server.requests_to(r"^/v1/deals/\d+/flow$")
