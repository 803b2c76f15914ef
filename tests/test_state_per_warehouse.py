"""Run state belongs to the warehouse: local state, locks and run logs are kept per warehouse, so runs
into two warehouses never block or report each other, and a failed run elsewhere changes nothing."""
from __future__ import annotations

import os

from click.testing import CliRunner

from conftest import hold_lock_in_process, query
from destinations import state_dir
from pipelines.cli import cli
from pipelines.runner import Target


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_two_warehouses_run_side_by_side_and_keep_their_own_runs(pipedrive_env, tmp_path, monkeypatch):
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "machine-dlt"))     # the machine's dlt folder
    a, b = str(tmp_path / "a.duckdb"), str(tmp_path / "b.duckdb")
    assert state_dir(None, a) != state_dir(None, b) and state_dir(None, a) == Target("duckdb", a).pipelines_dir
    assert state_dir(None, a).startswith(str(tmp_path / "machine-dlt"))

    # a failed run into A (bad token) leaves a failed run of the same pipeline name on this machine
    monkeypatch.setenv("SOURCES__PIPEDRIVE__API_TOKEN", "wrong-token-000000")
    assert run("run", "pipedrive", "--tables", "deals", "--duckdb", a).exit_code == 2
    monkeypatch.setenv("SOURCES__PIPEDRIVE__API_TOKEN", pipedrive_env.token)

    holder = hold_lock_in_process(state_dir(None, a))          # a run into A is going on
    try:
        assert run("run", "pipedrive", "--tables", "deals", "--duckdb", a).exit_code == 3
        into_b = run("run", "pipedrive", "--tables", "deals", "--duckdb", b, "--quiet")
        assert into_b.exit_code == 0, into_b.output
    finally:
        holder.kill()
        holder.wait()
    assert query(Target("duckdb", b), "SELECT count(*) FROM pipedrive.deals")[0][0] == len(pipedrive_env.expected("deals"))

    status_b = run("status", "--duckdb", b).output
    deals_b = next(line for line in status_b.splitlines() if line.startswith("pipedrive.deals "))
    assert deals_b.rstrip().endswith("ok") and "FAILED" not in status_b
    status_a = run("status", "--duckdb", a)
    assert status_a.exit_code == 2 or "FAILED" in status_a.output     # A has no file, or its failed run
    assert not os.path.exists(os.path.join(str(tmp_path / "machine-dlt"), "pipelines", "crm_elt_pipedrive"))
