"""Postgres as the warehouse, for real: a throwaway cluster from the server binaries, loaded through the
CLI (`--destination postgres`), an incremental second load, rows checked with psycopg2."""
from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from datetime import timezone

import pytest
from click.testing import CliRunner

from pipelines.cli import cli
from sources._incremental import parse_time

BIN = "/usr/local/bin"
pytestmark = pytest.mark.skipif(not os.path.exists(f"{BIN}/initdb"), reason=f"no PostgreSQL server binaries in {BIN}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_postgres(*cmd: str) -> list[str]:
    """Server binaries refuse to run as root: run them as the `postgres` user when we are root."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else list(cmd)


@pytest.fixture(scope="module")
def postgres_url():
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "postgres"], check=True)
    root = tempfile.mkdtemp(prefix="crm-elt-pg-")
    data = os.path.join(root, "data")
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    subprocess.run(as_postgres(f"{BIN}/initdb", "-D", data, "-A", "trust", "-U", "postgres"),
                   check=True, capture_output=True)
    port = free_port()
    subprocess.run(as_postgres(f"{BIN}/pg_ctl", "-D", data, "-o", f"-h 127.0.0.1 -p {port} -k {root}",
                               "-l", os.path.join(root, "log"), "-w", "start"), check=True, capture_output=True)
    try:
        yield f"postgresql://postgres:unused@127.0.0.1:{port}/postgres"     # trust auth; dlt insists on a password
    finally:
        subprocess.run(as_postgres(f"{BIN}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def pg_rows(url: str, sql: str) -> list[tuple]:
    import psycopg2

    with psycopg2.connect(url) as con, con.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def run(tmp_path, *args: str):
    return CliRunner().invoke(cli, [*args, "--destination", "postgres", "--pipelines-dir", str(tmp_path / "p")],
                              catch_exceptions=False)


def test_load_and_incremental_load_into_postgres(postgres_url, pipedrive_env, hotprofile_env, tmp_path, monkeypatch):
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres_url)
    pd, hp = pipedrive_env, hotprofile_env
    first = run(tmp_path, "run", "--quiet")
    assert first.exit_code == 0, first.output
    assert_deals(postgres_url, pd)
    assert_clients(postgres_url, hp)

    pd.tick(60)
    pd.mutate(seed=3, updates=15, inserts=5, deletes=3)
    hp.tick(hours=1)
    hp.mutate(seed=3, updates=20, inserts=5, deletes=0, merges=0, tables=["clients"])   # deletes: not CDC-visible
    second = run(tmp_path, "run")
    assert second.exit_code == 0, second.output
    assert_deals(postgres_url, pd)
    assert_clients(postgres_url, hp)
    deals_line = next(line for line in second.output.splitlines() if line.startswith("pipedrive.deals "))
    assert 0 < int(deals_line.split("rows=")[1].split()[0]) < 60          # only the changes travelled

    status = pg_rows(postgres_url, "SELECT table_name, rows_total, last_run_failed FROM pipedrive.status "
                                   "WHERE table_name = 'deals'")
    assert status == [("deals", len(pd.expected("deals")), False)]
    sql = run(tmp_path, "sql", "SELECT count(*) AS n FROM hotprofile.clients")
    assert sql.exit_code == 0 and sql.output.split() == ["n", str(len(hp.expected("clients")))]


def assert_deals(url: str, sb) -> None:
    rows = pg_rows(url, "SELECT id, update_time, status, coalesce(is_deleted, false) FROM pipedrive.deals")
    loaded = {r[0]: (r[1].astimezone(timezone.utc), r[2], r[3]) for r in rows}
    assert loaded == {d["id"]: (parse_time(d["update_time"]), d["status"], bool(d.get("is_deleted")))
                      for d in sb.expected("deals")}


def assert_clients(url: str, sb) -> None:
    rows = pg_rows(url, "SELECT id FROM hotprofile.clients")
    assert sorted(r[0] for r in rows) == sorted(c["id"] for c in sb.expected("clients"))
