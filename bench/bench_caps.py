"""Benchmark: a first load under a daily token cap (the company's budget is shared).

Each run stands for one day under ``max_tokens_per_day`` (a run capped at the same number per run). Prints
what ``crm-elt plan`` estimated before the first run, then per run ("day") the tokens and requests spent
and what was still queued, and the total against an uncapped first load of the same account: the cost of
splitting (field definitions and the page a stop re-reads, once per run).

    python bench/bench_caps.py --deals 500 --cap 10000
"""
from __future__ import annotations

import argparse
import tempfile

from pipelines.plan import plan_source
from pipelines.runner import Target, run_source
from sandbox.pipedrive import PipedriveSandbox
from sources._caps import TokenCaps
from sources.pipedrive import PipedriveSettings

TOKEN = "bench-token"


def first_load(deals: int, cap: int | None) -> tuple[int, int, int]:
    """(runs, tokens, requests) of a first load with ``cap`` tokens per run (None: uncapped)."""
    with PipedriveSandbox(seed=1, deals=deals, token=TOKEN, burst=10_000) as sb, \
            tempfile.TemporaryDirectory() as workdir:
        settings = PipedriveSettings(sb.base_url, TOKEN, caps=TokenCaps(per_run=cap))
        target = Target("duckdb", f"{workdir}/b.duckdb", f"{workdir}/p")
        if cap:
            plan = plan_source("pipedrive", target, settings=settings)
            print(f"plan before the first run: ≥{plan.tokens} tokens, ≥{plan.requests} requests; "
                  f"{plan.under_caps()}")
        runs = 0
        while True:
            before, requests = sb.tokens_spent, len(sb.server.requests)
            result = run_source("pipedrive", target, settings=settings)
            runs += 1
            if cap:
                print(f"  day {runs}: {sb.tokens_spent - before:>7} tokens, {len(sb.server.requests) - requests:>5} "
                      f"requests, {'stopped at the cap' if result.stopped else 'complete'}")
            if not result.stopped or runs > 100:
                return runs, sb.tokens_spent, len(sb.server.requests)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deals", type=int, default=500)
    parser.add_argument("--cap", type=int, default=10_000, help="max_tokens_per_day (one run per day)")
    args = parser.parse_args()
    free = first_load(args.deals, None)
    print(f"uncapped first load: {free[1]} tokens, {free[2]} requests in 1 run")
    capped = first_load(args.deals, args.cap)
    print(f"capped at {args.cap}/day: {capped[1]} tokens, {capped[2]} requests over {capped[0]} days; "
          f"splitting cost {capped[1] - free[1]} tokens ({(capped[1] - free[1]) / free[1]:.1%})")


if __name__ == "__main__":
    main()
