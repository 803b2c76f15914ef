"""Sanity run of the HotProfile source at realistic size (not a test): sandbox → real pipeline → DuckDB.

    python bench/bench_hotprofile.py [--clients 20000] [--leads 50000] [--cards 20000] [--reconcile]

Prints rows/s per table and overall, and the peak RSS of the process. The sandbox's rate limit and the
client's pacing are off: this measures our extraction + dlt normalize/load, not HotProfile's 100 calls/min
(at which 50k leads alone take 500 calls ≈ 5 minutes).
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

from pipelines.runner import Target, run_source  # noqa: E402
from sandbox.hotprofile import HotProfileSandbox  # noqa: E402
from sources._http import hotprofile_client  # noqa: E402
from sources.hotprofile import HotProfileSettings  # noqa: E402

KEY = "bench-key"


def peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss    # KiB on Linux
    return kb / 1024 if sys.platform != "darwin" else kb / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20_000)
    parser.add_argument("--leads", type=int, default=50_000)
    parser.add_argument("--cards", type=int, default=20_000)
    parser.add_argument("--reconcile", action="store_true", help="also run a second, reconciling run")
    args = parser.parse_args()

    started = time.monotonic()
    with HotProfileSandbox(seed=1, clients=args.clients, leads=args.leads, business_cards=args.cards,
                           api_key=KEY, rate=None) as sb, tempfile.TemporaryDirectory() as tmp:
        print(f"sandbox: {args.clients} clients, {args.leads} leads, {args.cards} cards "
              f"generated in {time.monotonic() - started:.1f}s; peak RSS {peak_rss_mb():.0f} MB")
        target = Target("duckdb", os.path.join(tmp, "bench.duckdb"), os.path.join(tmp, "pipelines"))
        settings = HotProfileSettings(sb.url_instance, KEY)
        client = hotprofile_client(sb.url_instance, KEY, calls=1_000_000, sleep=lambda s: None)
        began = time.monotonic()
        result = run_source("hotprofile", target, settings=settings, client=client)
        total = time.monotonic() - began
        rows = sum(t.rows for t in result.tables)
        for t in result.tables:
            print(f"  {t.table:<15} {t.rows:>7} rows  {t.requests:>4} calls  extract {t.seconds:6.1f}s  "
                  f"{t.rows / t.seconds if t.seconds else 0:>8.0f} rows/s extracted")
        print(f"first load: {rows} rows in {total:.1f}s = {rows / total:.0f} rows/s end to end; "
              f"peak RSS {peak_rss_mb():.0f} MB")
        expected = {name: len(sb.expected(name)) for name in ("clients", "leads", "business_cards")}
        loaded = {t.table: t.rows for t in result.tables}
        if loaded != expected:
            print(f"MISMATCH: loaded {loaded}, API has {expected}")
            return 1
        if args.reconcile:
            import inspect
            from pipelines import runner
            from sources._incremental import RunContext

            sb.tick(60)
            sb.mutate(seed=3, updates=200, inserts=50, deletes=30, merges=5)
            if "reconcile" not in inspect.signature(run_source).parameters:
                runner.RunContext = lambda **kw: RunContext(reconcile=True, **kw)
                extra = {}
            else:
                extra = {"reconcile": True}
            began = time.monotonic()
            result = run_source("hotprofile", target, settings=settings, client=client, **extra)
            print(f"reconcile run: {sum(t.rows for t in result.tables)} rows, "
                  f"{sum(t.requests for t in result.tables)} calls in {time.monotonic() - began:.1f}s; "
                  f"peak RSS {peak_rss_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
