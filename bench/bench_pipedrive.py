"""Benchmark: a full Pipedrive load and an incremental one against the emulator.

Prints requests, tokens and rows per table, local throughput (rows/s with the burst limit lifted, so
parsing/normalizing/loading is what is measured), peak RSS, and the wall time the same request count
needs at a real plan's burst (20 requests / 2 s on Lite).

    python bench/bench_pipedrive.py --deals 10000
"""
from __future__ import annotations

import argparse
import resource
import tempfile
import time

from pipelines.runner import Target, run_source
from sandbox.pipedrive import PipedriveSandbox
from sources.pipedrive import PipedriveSettings

TOKEN = "bench-token"


def report(label: str, result, seconds: float, burst: int) -> None:
    requests = sum(t.requests for t in result.tables)
    tokens = sum(t.tokens for t in result.tables)
    rows = sum(t.rows for t in result.tables)
    print(f"\n{label}: {rows} rows, {requests} requests, {tokens} tokens in {seconds:.1f}s "
          f"({rows / max(seconds, 1e-9):,.0f} rows/s local); at {burst} req/2s the requests alone need "
          f"{requests / (burst / 2):,.0f}s")
    for t in result.tables:
        print(f"  {t.table:<20} rows={t.rows:<7} requests={t.requests:<6} tokens={t.tokens:<7} {t.seconds:.2f}s")


SANDBOX_NAMES = {"deal_participants": "participants", "dealflow": "flow", "custom_fields": None}


def check_exact(sb, target: Target) -> None:
    """Live row counts of every table against the emulator's current data (the tests check keys and values)."""
    import duckdb

    from sources.pipedrive.tables import TABLES

    deleted_deals = {d["id"] for d in sb.live("deals") if d.get("is_deleted")}
    with duckdb.connect(target.duckdb_path, read_only=True) as con:
        for table in TABLES:
            name = SANDBOX_NAMES.get(table, table)
            if name is None:
                continue
            expected = sb.live(name)
            if table == "dealflow":
                expected = [item["data"] for item in expected if item["object"] == "dealChange"]
                expected = [e for e in expected if e["item_id"] not in deleted_deals]
            elif TABLES[table].reads_per_deal:
                expected = [r for r in expected if (r.get("deal_id") or r.get("related_item_id")) not in deleted_deals]
            else:
                expected = [r for r in expected if not r.get("is_deleted")]
            loaded = con.execute(f'SELECT count(*) FROM pipedrive."{table}" WHERE NOT is_deleted').fetchone()[0]
            if loaded != len(expected):
                print(f"  MISMATCH {table}: warehouse {loaded} live rows, sandbox {len(expected)}")
    print("  live row counts checked against the sandbox")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deals", type=int, default=10_000)
    parser.add_argument("--plan-burst", type=int, default=20, help="requests per 2 s used for the projection")
    args = parser.parse_args()
    with PipedriveSandbox(seed=1, deals=args.deals, token=TOKEN, burst=1_000_000) as sb, \
            tempfile.TemporaryDirectory() as workdir:
        target = Target("duckdb", f"{workdir}/bench.duckdb", f"{workdir}/pipelines")
        settings = PipedriveSettings(sb.base_url, TOKEN, rate_limit_burst=1_000_000)
        started = time.monotonic()
        first = run_source("pipedrive", target, settings=settings)
        report("first load", first, time.monotonic() - started, args.plan_burst)
        check_exact(sb, target)
        sb.tick(60)
        sb.mutate(seed=2, updates=200, inserts=50, deletes=20, same_second=10)
        started = time.monotonic()
        second = run_source("pipedrive", target, settings=settings)
        report("incremental", second, time.monotonic() - started, args.plan_burst)
        check_exact(sb, target)
        started = time.monotonic()
        third = run_source("pipedrive", target, settings=settings)
        report("no change", third, time.monotonic() - started, args.plan_burst)
        started = time.monotonic()
        scan = run_source("pipedrive", target, settings=settings, reconcile=True)
        report("no change + id scan (reconcile)", scan, time.monotonic() - started, args.plan_burst)
        check_exact(sb, target)
    print(f"\npeak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB (emulator included)")


if __name__ == "__main__":
    main()
