"""A run killed inside dlt's load step (SIGKILL, OOM, reboot): the next run finishes the half-loaded package
without duplicating a row, and the copy ends exact.

Kills land at exact instants (``die_at.py``): after a staging copy whose completion dlt had not recorded
yet (the job runs again), after a merge, during the repair, inside
normalize's commit; on Postgres after the state row. Real signals during normalize and load:
``test_interrupt.py``."""
from __future__ import annotations

import os
import subprocess
import sys

import duckdb
import pytest

from conftest import pg_rows, requires_postgres
from truth import assert_hotprofile_exact, assert_pipedrive_exact

HELPER = os.path.join(os.path.dirname(__file__), "die_at.py")


def crm_elt(tmp_path, *args: str, die_after: str | None = None, **env: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DIE_AFTER_SQL": die_after or "", **env}
    where = () if "--destination" in args else ("--duckdb", str(tmp_path / "crm.duckdb"))
    command = [sys.executable, HELPER, *args, "--quiet", *where, "--pipelines-dir", str(tmp_path / "state")]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)


def fetch(tmp_path):
    con = duckdb.connect(str(tmp_path / "crm.duckdb"), read_only=True)
    return con, lambda sql: con.execute(sql).fetchall()


@pytest.mark.parametrize("die_after", [
    r'INSERT INTO "hotprofile_staging"\."leads" BY NAME',          # root of a nested chain, in staging
    r'INSERT INTO "hotprofile"\."clients"\(',                       # the merge of clients (and its lists)
])
def test_a_hotprofile_load_killed_at_any_statement_finishes_without_duplicates(small_env, tmp_path, die_after):
    _, sb = small_env
    killed = crm_elt(tmp_path, "run", "hotprofile", die_after=die_after)
    assert killed.returncode == 137, killed.stderr
    sb.server.clear_requests()
    again = crm_elt(tmp_path, "run", "hotprofile")
    assert again.returncode == 0, again.stderr
    con, sql = fetch(tmp_path)
    with con:
        assert_hotprofile_exact(sb, sql)
        assert not os.path.exists(tmp_path / "state" / "crm_elt_hotprofile" / "crm_elt_interrupted_load.json")


def test_a_kill_during_the_repair_itself_is_repaired_by_the_next_run(small_env, tmp_path):
    _, sb = small_env
    assert crm_elt(tmp_path, "run", "hotprofile", die_after=r'INSERT INTO "hotprofile_staging"\."leads" BY NAME'
                   ).returncode == 137
    # the repair copies a table's duplicated rows aside, then dies before it commits (rolled back)
    assert crm_elt(tmp_path, "run", "hotprofile", die_after=r"crm_elt_copies.*AS SELECT").returncode == 137
    with duckdb.connect(str(tmp_path / "crm.duckdb"), read_only=True) as con:
        copies = con.execute("SELECT count(*) - count(DISTINCT id) FROM hotprofile.leads").fetchone()[0]
    assert copies > 0, "the load finished, the duplicates it left wait for their repair"
    again = crm_elt(tmp_path, "run", "hotprofile")
    assert again.returncode == 0, again.stderr
    con, sql = fetch(tmp_path)
    with con:
        assert_hotprofile_exact(sb, sql)


def test_a_rebuild_killed_after_its_insert_does_not_double_the_rebuilt_table(small_env, tmp_path, monkeypatch):
    sb, _ = small_env
    monkeypatch.setenv("SOURCES__PIPEDRIVE__RECONCILE_EVERY_HOURS", "0")     # deletes show in the id scan
    tables = ("deals", "deal_participants")
    assert crm_elt(tmp_path, "run", "pipedrive", "--tables", ",".join(tables)).returncode == 0
    # --full-refresh of a per-deal table replaces it: truncate, then insert (no staging, no merge)
    killed = crm_elt(tmp_path, "run", "pipedrive", "--tables", ",".join(tables), "--full-refresh", "deal_participants",
                     die_after=r'INSERT INTO "pipedrive"\."deal_participants"')
    assert killed.returncode == 137, killed.stderr
    sb.tick(60)
    sb.mutate(seed=4)
    again = crm_elt(tmp_path, "run", "pipedrive", "--tables", ",".join(tables))
    assert again.returncode == 0, again.stderr
    con, sql = fetch(tmp_path)
    with con:
        assert_pipedrive_exact(sb, sql, tables=tables)


@pytest.mark.parametrize("first_load", [True, False])
def test_a_kill_while_normalize_commits_its_package_loses_nothing(small_env, tmp_path, monkeypatch, first_load):
    sb, _ = small_env
    monkeypatch.setenv("SOURCES__PIPEDRIVE__RECONCILE_EVERY_HOURS", "0")     # deletes show in the id scan
    tables = ("deals", "dealflow", "persons")
    if not first_load:
        assert crm_elt(tmp_path, "run", "pipedrive", "--tables", ",".join(tables)).returncode == 0
        sb.tick(60)
        sb.mutate(seed=6)
    killed = crm_elt(tmp_path, "run", "pipedrive", "--tables", ",".join(tables), DIE_IN_NORMALIZE_COMMIT="1")
    assert killed.returncode == 137, killed.stderr
    sb.server.clear_requests()
    again = crm_elt(tmp_path, "run", "pipedrive", "--tables", ",".join(tables))
    assert again.returncode == 0, again.stderr
    con, sql = fetch(tmp_path)
    with con:
        assert_pipedrive_exact(sb, sql, tables=tables)
    # the package read by the killed run was loaded, not read again
    assert not sb.server.requests_to(r"^/v1/deals/\d+/flow$")


@requires_postgres
@pytest.mark.parametrize("die_after", [r'INSERT INTO "hotprofile_staging"\."leads"\(',
                                       r'INSERT INTO "hotprofile"\."_dlt_pipeline_state"\('])
def test_a_postgres_load_killed_after_a_committed_job_finishes_on_the_next_run(small_env, tmp_path, postgres_db,
                                                                             die_after):
    """On Postgres a re-run job used to hit dlt's unique _dlt_id index: every later run failed."""
    _, sb = small_env
    env = {"DESTINATION__POSTGRES__CREDENTIALS": postgres_db}
    args = ("run", "hotprofile", "--destination", "postgres")
    killed = crm_elt(tmp_path, *args, die_after=die_after, **env)
    assert killed.returncode == 137, killed.stderr
    again = crm_elt(tmp_path, *args, **env)
    assert again.returncode == 0, again.stderr
    assert_hotprofile_exact(sb, lambda sql: pg_rows(postgres_db, sql))
