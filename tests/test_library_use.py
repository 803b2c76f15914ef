"""The sources as plain dlt sources: a user's own script, only ``SOURCES__*`` variables, dlt's default
(round-robin) extraction, nothing from ``pipelines/``; the per-deal tables are still exact."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb

from conftest import PD_TOKEN

SCRIPT = """
import sys
import dlt
from sources.pipedrive import pipedrive_source

pipeline = dlt.pipeline("user_pipeline", destination=dlt.destinations.duckdb(sys.argv[1]), dataset_name="pipedrive",
                        pipelines_dir=sys.argv[2])
pipeline.run(pipedrive_source().with_resources("deals", "dealflow", "deal_products"))
assert not [m for m in sys.modules if m == "pipelines" or m.startswith("pipelines.")], "imported pipelines/"
"""


def run_user_script(tmp_path: Path, sb) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "EXTRACT__", "DESTINATION__"))}
    env.update(SOURCES__PIPEDRIVE__API_TOKEN=PD_TOKEN, SOURCES__PIPEDRIVE__BASE_URL=sb.base_url,
               SOURCES__PIPEDRIVE__RATE_LIMIT_BURST="10000", RUNTIME__DLTHUB_TELEMETRY="false",
               PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "user.duckdb"), str(tmp_path / "state")],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert PD_TOKEN not in done.stdout + done.stderr


def live_ids(path: Path, table: str) -> set:
    with duckdb.connect(str(path), read_only=True) as con:
        return {r[0] for r in con.execute(f"SELECT id FROM pipedrive.{table} WHERE NOT is_deleted").fetchall()}


def truth(sb) -> dict[str, set]:
    deleted = {d["id"] for d in sb.live("deals") if d["is_deleted"]}
    return {"deals": {d["id"] for d in sb.live("deals") if not d["is_deleted"]},
            "dealflow": {f["data"]["id"] for f in sb.live("flow")
                         if f["object"] == "dealChange" and f["data"]["item_id"] not in deleted},
            "deal_products": {p["id"] for p in sb.live("deal_products") if p["deal_id"] not in deleted}}


def test_plain_source_in_a_users_pipeline_is_exact_with_round_robin_extraction(pipedrive_sb, tmp_path):
    sb = pipedrive_sb
    run_user_script(tmp_path, sb)
    assert {table: live_ids(tmp_path / "user.duckdb", table) for table in truth(sb)} == truth(sb)
    sb.tick(60)
    sb.mutate(seed=9, updates=30, inserts=8, deletes=4)
    run_user_script(tmp_path, sb)
    assert {table: live_ids(tmp_path / "user.duckdb", table) for table in truth(sb)} == truth(sb)
