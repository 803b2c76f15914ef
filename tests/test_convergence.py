"""Exact copy through change: randomized rounds of updates, same-second ties, inserts, deletes of every
kind, a field rename and a 31-day jump (Pipedrive purges deleted deals); after every round one run (with
the id scan) and every table of both sources must equal the sandbox's truth, on DuckDB and on Postgres.
"""
from __future__ import annotations

from contextlib import contextmanager
from random import Random

import duckdb

from conftest import HP_KEY, PD_TOKEN, hp_settings, pd_settings, requires_postgres
from pipelines.runner import Target, run_source
from sandbox.hotprofile import HotProfileSandbox
from sandbox.pipedrive import PipedriveSandbox
from truth import assert_hotprofile_exact, assert_pipedrive_exact

ROUNDS = 3
RENAME_ROUND, JUMP_ROUND = 2, 3


def pipedrive_round(sb, rng: Random, n: int) -> None:
    sb.list_deleted = n % 2 == 0      # accounts that list deleted persons... (flagged) and accounts that hide them
    if rng.random() < 0.7:            # else: changes within the second the last run ended on
        sb.tick(rng.randint(1, 7200))
    sb.mutate(seed=rng.randrange(10**6), updates=rng.randint(5, 25), inserts=rng.randint(1, 8),
              deletes=rng.randint(2, 8), same_second=rng.randint(0, 4))
    if n == RENAME_ROUND:
        name, key = sorted(sb.custom_field_keys("deal").items())[0]
        sb.rename_field("deal", key, f"{name} (renamed)")
        sb.update("deals", next(d["id"] for d in sb.live("deals") if not d["is_deleted"]), **{key: None})
    if n == JUMP_ROUND:
        sb.tick(31 * 86400)           # deals deleted this round are purged before any run saw them deleted


def hotprofile_round(sb, rng: Random, n: int) -> None:
    if rng.random() < 0.7:
        sb.tick(rng.randint(1, 7200))
    sb.mutate(seed=rng.randrange(10**6), updates=rng.randint(5, 25), inserts=rng.randint(1, 8),
              deletes=rng.randint(1, 4), merges=rng.randint(0, 2), same_second=rng.randint(0, 4))
    if n == JUMP_ROUND:
        sb.tick(31 * 86400)


def converge(target: Target, connect, seed: int, rounds: int = ROUNDS) -> None:
    """``connect()``: a context manager giving ``fetch(sql) -> rows`` on one warehouse connection."""
    rng = Random(seed)
    with PipedriveSandbox(seed=seed, deals=60, token=PD_TOKEN, burst=10_000) as pd, \
            HotProfileSandbox(seed=seed, clients=120, leads=80, business_cards=60, api_key=HP_KEY, rate=None) as hp:
        for n in range(rounds + 1):
            if n:
                pipedrive_round(pd, rng, n)
                hotprofile_round(hp, rng, n)
            run_source("pipedrive", target, settings=pd_settings(pd), reconcile=n > 0)
            run_source("hotprofile", target, settings=hp_settings(hp), reconcile=n > 0)
            try:
                with connect() as fetch:
                    assert_pipedrive_exact(pd, fetch)
                    assert_hotprofile_exact(hp, fetch)
            except AssertionError as exc:
                raise AssertionError(f"round {n} (seed {seed}): {exc}") from None


def test_every_table_stays_exact_through_randomized_change_on_duckdb(target):
    @contextmanager
    def connect():
        with duckdb.connect(target.duckdb_path, read_only=True) as con:
            yield lambda sql: con.execute(sql).fetchall()

    converge(target, connect, seed=1)


@requires_postgres
def test_every_table_stays_exact_through_randomized_change_on_postgres(postgres_db, tmp_path, monkeypatch):
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres_db)
    target = Target("postgres", None, str(tmp_path / "pipelines"))
    @contextmanager
    def connect():
        import psycopg2

        with psycopg2.connect(postgres_db) as con, con.cursor() as cur:
            def fetch(sql):
                cur.execute(sql)
                return cur.fetchall()
            yield fetch

    converge(target, connect, seed=3)
