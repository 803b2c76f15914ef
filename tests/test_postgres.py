"""Postgres as the warehouse, for real: a throwaway cluster from the server binaries, loaded through the
CLI (`--destination postgres`), an incremental second load, rows checked with psycopg2."""
from __future__ import annotations

from datetime import timezone

from click.testing import CliRunner

from conftest import pg_rows, requires_postgres
from pipelines.cli import cli
from sources._incremental import parse_time

pytestmark = requires_postgres


def run(tmp_path, *args: str):
    return CliRunner().invoke(cli, [*args, "--destination", "postgres", "--pipelines-dir", str(tmp_path / "p")],
                              catch_exceptions=False)


def test_load_and_incremental_load_into_postgres(postgres_db, pipedrive_env, hotprofile_env, tmp_path, monkeypatch):
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres_db)
    pd, hp = pipedrive_env, hotprofile_env
    first = run(tmp_path, "run", "--quiet")
    assert first.exit_code == 0, first.output
    assert_deals(postgres_db, pd)
    assert_clients(postgres_db, hp)

    pd.tick(60)
    pd.mutate(seed=3, updates=15, inserts=5, deletes=3)
    hp.tick(hours=1)
    hp.mutate(seed=3, updates=20, inserts=5, deletes=0, merges=0, tables=["clients"])   # deletes: not CDC-visible
    second = run(tmp_path, "run")
    assert second.exit_code == 0, second.output
    assert_deals(postgres_db, pd)
    assert_clients(postgres_db, hp)
    deals_line = next(line for line in second.output.splitlines() if line.startswith("pipedrive.deals "))
    assert 0 < int(deals_line.split("rows=")[1].split()[0]) < 60          # only the changes travelled

    status = pg_rows(postgres_db, "SELECT table_name, rows_total, last_run_failed FROM pipedrive.status "
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


def test_the_repair_of_an_interrupted_load_runs_on_postgres(postgres_db, tmp_path, monkeypatch):
    """The copies a killed load leaves (identical rows, one ``_dlt_id``) are removed with Postgres SQL too:
    JSON columns, timestamps, a nested table."""
    import dlt
    import psycopg2

    from destinations import make_destination
    from pipelines import recovery

    rows = [{"id": n, "name": f"lead {n}", "extra": {"n": n}, "tags": ["a", "b"],
             "updated_at": "2026-01-02T03:04:05+00:00"} for n in range(1, 6)]
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres_db)
    pipeline = dlt.pipeline("pg_repair", pipelines_dir=str(tmp_path / "p"), dataset_name="hp",
                            destination=make_destination("postgres"))
    pipeline.run(rows, table_name="leads", primary_key="id", write_disposition="merge",
                 columns={"extra": {"data_type": "json"}})
    with psycopg2.connect(postgres_db) as con, con.cursor() as cur:      # what a re-run staging job leaves
        cur.execute("INSERT INTO hp.leads SELECT * FROM hp.leads WHERE id <= 3")
    recovery.remember(pipeline, ["leads", "leads__tags"])
    assert recovery.repair(pipeline) == 3
    assert pg_rows(postgres_db, "SELECT count(*), count(DISTINCT _dlt_id), count(DISTINCT id) FROM hp.leads") == \
        [(5, 5, 5)]
    assert pg_rows(postgres_db, "SELECT extra->>'n' FROM hp.leads WHERE id = 2") == [("2",)]
    assert recovery.pending_repair(pipeline) == []
