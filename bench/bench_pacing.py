"""Benchmark: does the client keep a plan's burst window full over a slow network, without a 429?

The emulator enforces Pipedrive's rolling 2-second window and adds a round-trip latency to every
response; the per-deal tables (one request per deal) are loaded sequentially and with the default
number of requests in flight. Prints achieved requests/s against the plan's ceiling and the 429 count.

    python bench/bench_pacing.py --deals 150 --burst 20 --latency 0.2
"""
from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from unittest import mock

from pipelines.runner import Target, run_source
from sandbox.pipedrive import PipedriveSandbox
from sources._http import pipedrive_client
from sources.pipedrive import PipedriveSettings

TOKEN = "bench-token"
TABLES = ["deal_fields", "deals", "dealflow", "deal_participants"]


def one_at_a_time(fn, items, workers):
    return ((item, fn(item)) for item in items)


def measure(deals: int, burst: int, latency: float, sequential: bool) -> None:
    with PipedriveSandbox(seed=1, deals=deals, token=TOKEN, burst=burst) as sb, \
            tempfile.TemporaryDirectory() as workdir:
        sb.server.latency = latency
        settings = PipedriveSettings(sb.base_url, TOKEN, rate_limit_burst=burst)
        target = Target("duckdb", f"{workdir}/b.duckdb", f"{workdir}/p")
        fan_out = mock.patch("sources.pipedrive.readers.ordered_parallel", one_at_a_time) if sequential \
            else contextlib.nullcontext()
        started = time.monotonic()
        with fan_out:
            result = run_source("pipedrive", target, tables=TABLES, settings=settings,
                                client=pipedrive_client(sb.base_url, TOKEN, burst=burst))
        seconds = time.monotonic() - started
        requests = sum(t.requests for t in result.tables)
        label = "sequential" if sequential else "default fan-out"
        print(f"{label:<16} {requests} requests in {seconds:5.1f}s = {requests / seconds:5.1f} req/s "
              f"(plan ceiling {burst / 2:.0f} req/s, latency {latency * 1000:.0f} ms), "
              f"429s: {sb.app.limiter.limited_total}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deals", type=int, default=150)
    parser.add_argument("--burst", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.2)
    args = parser.parse_args()
    for sequential in (True, False):
        measure(args.deals, args.burst, args.latency, sequential)


if __name__ == "__main__":
    main()
