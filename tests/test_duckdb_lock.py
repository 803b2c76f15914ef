"""A DuckDB file held open by another process (an analyst): loads wait a bounded time; --publish copies."""
from __future__ import annotations

from dataclasses import replace

import duckdb
import pytest
from click.testing import CliRunner

from conftest import hold_duckdb, pd_settings, query, run_pipedrive
from destinations.duckdb_lock import DuckDBLocked
from pipelines.cli import cli
from sources._http import pipedrive_client


def invoke(tmp_path, *args: str):
    paths = ["--duckdb", str(tmp_path / "crm.duckdb"), "--pipelines-dir", str(tmp_path / "pipelines")]
    return CliRunner().invoke(cli, [*args, *paths], catch_exceptions=False)


def deal_count(path) -> int:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute("SELECT count(*) FROM pipedrive.deals").fetchone()[0]


def test_run_waits_for_an_analyst_connection_and_succeeds(pipedrive_sb, target):
    run_pipedrive(pipedrive_sb, target, tables=["deals"])
    pipedrive_sb.tick(60)
    pipedrive_sb.mutate(seed=3, updates=5, inserts=4, deletes=1)
    notices: list[str] = []
    holder = hold_duckdb(target.duckdb_path, seconds=2.5)
    result = run_pipedrive(pipedrive_sb, replace(target, on_wait=notices.append), tables=["deals"])
    holder.wait()
    assert len(notices) == 1 and "is locked" in notices[0] and f"PID {holder.pid}" in notices[0]
    assert result.tables[0].rows > 0
    assert query(target, "SELECT count(*) FROM pipedrive.deals")[0][0] == len(pipedrive_sb.expected("deals"))


def holding_client(sb, target, seconds: float):
    """A Pipedrive client whose first request makes another process open the DuckDB file for ``seconds``."""
    client = pipedrive_client(sb.base_url, pd_settings(sb).api_token, burst=10_000)
    request, holders = client.request, []

    def request_then_hold(*args, **kw):
        if not holders:
            holders.append(hold_duckdb(target.duckdb_path, seconds=seconds))
        return request(*args, **kw)

    client.request = request_then_hold
    return client, holders


def test_lock_met_at_the_load_step_retries_only_the_load(pipedrive_sb, target):
    """The holder appears after the run synced with the warehouse, while it reads the API."""
    run_pipedrive(pipedrive_sb, target, tables=["deals"])
    pipedrive_sb.tick(60)
    pipedrive_sb.mutate(seed=4, updates=5, inserts=3, deletes=0)
    pipedrive_sb.server.clear_requests()
    client, holders = holding_client(pipedrive_sb, target, seconds=2.0)
    result = run_pipedrive(pipedrive_sb, replace(target, on_wait=lambda message: None), tables=["deals"], client=client)
    holders[0].wait()
    assert result.tables[0].rows > 0                            # counted from the normalized package
    assert query(target, "SELECT count(*) FROM pipedrive.deals")[0][0] == len(pipedrive_sb.expected("deals"))
    assert len(pipedrive_sb.server.requests_to(r"^/api/v2/deals$")) == 1   # the API was read once


def test_lock_timeout_gives_up_with_a_clear_message(pipedrive_env, tmp_path):
    assert invoke(tmp_path, "run", "pipedrive", "--quiet", "--tables", "deals").exit_code == 0
    holder = hold_duckdb(str(tmp_path / "crm.duckdb"), seconds=5)
    try:
        result = invoke(tmp_path, "run", "pipedrive", "--quiet", "--tables", "deals", "--lock-timeout", "0.5")
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 1
    assert "stayed locked for 0.5s" in result.output and "--lock-timeout" in result.output
    assert "--publish" in result.output


def test_publish_replaces_the_copy_while_an_analyst_has_it_open(pipedrive_env, tmp_path):
    copy = tmp_path / "published" / "crm.duckdb"
    assert invoke(tmp_path, "run", "pipedrive", "--quiet", "--tables", "deals", "--publish", str(copy)).exit_code == 0
    first = deal_count(copy)
    assert first == len(pipedrive_env.expected("deals"))
    analyst = duckdb.connect(str(copy), read_only=True)        # keeps reading the old copy meanwhile
    pipedrive_env.tick(60)
    pipedrive_env.mutate(seed=5, updates=2, inserts=6, deletes=0)
    holder = hold_duckdb(str(copy), seconds=2)                 # and another process has it open too
    result = invoke(tmp_path, "run", "pipedrive", "--quiet", "--tables", "deals", "--publish", str(copy))
    holder.wait()
    assert result.exit_code == 0, result.output
    assert analyst.execute("SELECT count(*) FROM pipedrive.deals").fetchone()[0] == first
    analyst.close()
    assert deal_count(copy) == len(pipedrive_env.expected("deals")) > first
    assert [p.name for p in copy.parent.iterdir()] == ["crm.duckdb"]   # no temp files left behind


def test_publish_needs_duckdb(tmp_path):
    result = invoke(tmp_path, "run", "pipedrive", "--destination", "postgres", "--publish", str(tmp_path / "x"))
    assert result.exit_code == 2 and "--publish" in result.output


def test_package_left_by_a_timed_out_load_is_loaded_before_the_next_extraction(pipedrive_sb, target):
    run_pipedrive(pipedrive_sb, target, tables=["deals"])
    pipedrive_sb.tick(60)
    pipedrive_sb.mutate(seed=6, updates=5, inserts=3, deletes=0)
    client, holders = holding_client(pipedrive_sb, target, seconds=1.5)
    impatient = replace(target, lock_timeout=0.3, on_wait=lambda message: None)
    with pytest.raises(DuckDBLocked):
        run_pipedrive(pipedrive_sb, impatient, tables=["deals"], client=client)
    holders[0].wait()
    pipedrive_sb.tick(60)
    pipedrive_sb.mutate(seed=7, updates=0, inserts=4, deletes=0)
    run_pipedrive(pipedrive_sb, target, tables=["deals"])      # loads the pending package, then reads the API
    assert query(target, "SELECT count(*) FROM pipedrive.deals")[0][0] == len(pipedrive_sb.expected("deals"))
