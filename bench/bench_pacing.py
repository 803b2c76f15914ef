"""Benchmark: does the client keep a plan's burst window full over a slow network, without a 429?

The emulator enforces Pipedrive's rolling 2-second window (``--burst`` requests, sent back in
x-ratelimit-limit) and adds a round-trip latency to every response; the client is given no burst
(``rate_limit_burst`` unset: it learns the plan's from the server) unless ``--cap`` sets one. The
per-deal tables (one request per deal) are loaded with the default number of requests in flight, and
with ``--sequential`` also one at a time. Prints achieved requests/s against the plan's rate (burst / 2 s),
over the whole load (wall clock, incl. dlt's local work) and over the per-deal requests alone, and the
count of 429 and 403 answers.

    python bench/bench_pacing.py --deals 300 --burst 20 --latency 0.15
    python bench/bench_pacing.py --deals 1000 --burst 100 --latency 0
"""
from __future__ import annotations

import argparse
import contextlib
import re
import tempfile
import time
from unittest import mock

from pipelines.runner import Target, run_source
from sandbox.pipedrive import PipedriveSandbox
from sources._http import pipedrive_client
from sources.pipedrive import PipedriveSettings

TOKEN = "bench-token"
TABLES = ["deal_fields", "deals", "dealflow", "deal_participants"]
PER_DEAL = re.compile(r"^/v1/deals/\d+/(flow|participants)$")


def one_at_a_time(fn, items, workers):
    return ((item, fn(item)) for item in items)


def measure(deals: int, burst: int, latency: float, cap: int | None, sequential: bool) -> None:
    with PipedriveSandbox(seed=1, deals=deals, token=TOKEN, burst=burst) as sb, \
            tempfile.TemporaryDirectory() as workdir:
        sb.server.latency = latency
        statuses: dict[int, int] = {}
        app = sb.server.app

        def counting(request):
            response = app(request)
            statuses[response.status] = statuses.get(response.status, 0) + 1
            return response

        sb.server.app = counting
        settings = PipedriveSettings(sb.base_url, TOKEN, rate_limit_burst=cap)
        client = pipedrive_client(sb.base_url, TOKEN, burst=cap)
        target = Target("duckdb", f"{workdir}/b.duckdb", f"{workdir}/p")
        fan_out = mock.patch("sources.pipedrive.readers.ordered_parallel", one_at_a_time) if sequential \
            else contextlib.nullcontext()
        started = time.monotonic()
        with fan_out:
            result = run_source("pipedrive", target, tables=TABLES, settings=settings, client=client)
        seconds = time.monotonic() - started
        requests = sum(t.requests for t in result.tables)
        stamps = sorted(r.time for r in sb.server.requests if PER_DEAL.match(r.path))
        plan = burst / 2
        steady = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else 0.0
        label = "sequential" if sequential else "default fan-out"
        print(f"{label:<16} plan {burst}/2s = {plan:.0f} req/s, latency {latency * 1000:.0f} ms, "
              f"rate_limit_burst {cap if cap else 'unset'}: learned {client.pacer.max_requests}; "
              f"{requests} requests in {seconds:5.1f}s = {requests / seconds:5.1f} req/s "
              f"({requests / seconds / plan:4.0%} of plan); per-deal {len(stamps)} requests at {steady:5.1f} req/s "
              f"({steady / plan:4.0%} of plan); 429s: {statuses.get(429, 0)}, 403s: {statuses.get(403, 0)}, "
              f"contradicting headers: {client.pacer.contradictions}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deals", type=int, default=300)
    parser.add_argument("--burst", type=int, default=20, help="the emulated plan's requests per 2 s")
    parser.add_argument("--latency", type=float, default=0.15, help="seconds added to every response")
    parser.add_argument("--cap", type=int, default=None, help="rate_limit_burst (default: unset, learned)")
    parser.add_argument("--sequential", action="store_true", help="also load the per-deal calls one at a time")
    args = parser.parse_args()
    for sequential in ((True, False) if args.sequential else (False,)):
        measure(args.deals, args.burst, args.latency, args.cap, sequential)


if __name__ == "__main__":
    main()
