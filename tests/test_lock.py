"""No overlapping runs of one pipeline: the second exits 3 at once; a killed run's lock is taken over."""
from __future__ import annotations

import os
import signal
import threading
import time

from click.testing import CliRunner

from conftest import hold_lock_in_process, query, run_pipedrive
from pipelines.cli import cli
from pipelines.lock import lock_path


def invoke(tmp_path, *args: str):
    paths = ["--duckdb", str(tmp_path / "crm.duckdb"), "--pipelines-dir", str(tmp_path / "pipelines")]
    return CliRunner().invoke(cli, [*args, *paths], catch_exceptions=False)


def test_second_run_exits_3_while_the_first_loads(pipedrive_env, target, tmp_path):
    pipedrive_env.server.faults.add("slow", path="^/api/v2/deals$", delay=2.0)
    first: dict = {}
    thread = threading.Thread(target=lambda: first.update(result=run_pipedrive(pipedrive_env, target, tables=["deals"])))
    thread.start()
    deadline = time.monotonic() + 10
    while not pipedrive_env.server.requests_to("^/api/v2/deals$") and time.monotonic() < deadline:
        time.sleep(0.05)
    second = invoke(tmp_path, "run", "pipedrive", "--tables", "deals")
    assert thread.is_alive()                                 # exits at once: the first still reads its slow page
    thread.join()
    assert second.exit_code == 3
    assert "another run of crm_elt_pipedrive is in progress" in second.output
    assert f"pid {os.getpid()}" in second.output
    assert first["result"].tables[0].rows == len(pipedrive_env.expected("deals"))
    assert query(target, "SELECT count(*) FROM pipedrive.deals")[0][0] == len(pipedrive_env.expected("deals"))


def test_backfill_also_respects_the_lock_and_other_pipelines_do_not(pipedrive_env, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCES__PIPEDRIVE__ACCOUNTS", '["other"]')
    holder = hold_lock_in_process(str(tmp_path / "pipelines"))
    try:
        result = invoke(tmp_path, "backfill", "pipedrive", "--from", "2024-01-01", "--tables", "deals")
        assert result.exit_code == 3 and f"pid {holder.pid}" in result.output
        assert invoke(tmp_path, "run", "pipedrive", "--account", "other", "--tables", "deals").exit_code == 0
    finally:
        holder.kill()
        holder.wait()


def test_lock_of_a_killed_run_is_taken_over(pipedrive_env, tmp_path):
    holder = hold_lock_in_process(str(tmp_path / "pipelines"))
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    path = lock_path(str(tmp_path / "pipelines"), "crm_elt_pipedrive")
    assert open(path).read().strip() == str(holder.pid)      # the stale file is still there
    result = invoke(tmp_path, "run", "pipedrive", "--quiet", "--tables", "deals")
    assert result.exit_code == 0, result.output
    assert open(path).read().strip() != str(holder.pid)
