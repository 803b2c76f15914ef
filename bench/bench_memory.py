"""Benchmark: peak memory (RSS) of a first Pipedrive load, per dlt phase, at several data sizes.

The emulator holds all its data in memory, so it runs in a process of its own; each load runs in a fresh
process whose RSS is sampled every 50 ms (VmRSS) and attributed to the dlt step running at that moment
(extract, normalize, load; "other" is setup, state sync and the run log). Burst limit lifted.

    python bench/bench_memory.py --deals 2000 10000 50000
    python bench/bench_memory.py --deals 10000 --postgres      # also into a throwaway PostgreSQL cluster
    python bench/bench_memory.py --deals 50000 --steps         # and every step of every checkpoint segment
    python bench/bench_memory.py --deals 50000 --lists-only --load-jobs 4 2 1   # the largest load step only
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

TOKEN = "bench-token"
BURST = 1_000_000
PHASES = ("extract", "normalize", "load", "other")
PG_BIN = "/usr/local/bin"


def _rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Sampler:
    """Peak RSS per phase, sampled from a daemon thread."""

    def __init__(self, interval: float = 0.05):
        self.phase = "other"
        self.peak = {phase: 0.0 for phase in PHASES}
        self.step_peak = 0.0
        self.seconds = {phase: 0.0 for phase in PHASES}
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        last = time.monotonic()
        while not self._stop.is_set():
            rss, now = _rss_mib(), time.monotonic()
            self.peak[self.phase] = max(self.peak[self.phase], rss)
            self.step_peak = max(self.step_peak, rss)
            self.seconds[self.phase] += now - last
            last = now
            self._stop.wait(self.interval)

    def __enter__(self) -> "Sampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def wrap(self, cls, name: str) -> None:
        original = getattr(cls, name)
        sampler = self

        def wrapped(self, *args, **kwargs):
            outer = sampler.phase
            sampler.phase = name
            started, sampler.step_peak = time.monotonic(), _rss_mib()
            try:
                return original(self, *args, **kwargs)
            finally:
                rss = _rss_mib()
                sampler.peak[name] = max(sampler.peak[name], rss)
                sampler.phase = outer
                print(f"step {name:<9} {time.monotonic() - started:6.1f}s  peak {max(sampler.step_peak, rss):5,.0f} MiB"
                      f"  after {rss:5,.0f} MiB", flush=True)

        setattr(cls, name, wrapped)


def serve(deals: int) -> None:
    """Child: the emulator, until stdin closes."""
    from sandbox.pipedrive import PipedriveSandbox

    with PipedriveSandbox(seed=1, deals=deals, token=TOKEN, burst=BURST) as sb:
        print(sb.base_url, flush=True)
        sys.stdin.read()


def load(base_url: str, destination: str, workdir: str, lists_only: bool = False, jobs: int | None = None,
         duckdb_memory: int | None = None) -> None:
    """Child: one first load; prints its figures as JSON on the last line."""
    from dlt.pipeline.pipeline import Pipeline

    import destinations
    from pipelines.runner import Target, run_source
    from sources.pipedrive import PipedriveSettings
    from sources.pipedrive.tables import TABLES

    if jobs:
        destinations.LOAD_CAPS["duckdb"]["max_parallel_load_jobs"] = jobs
    if duckdb_memory:
        destinations.DUCKDB_CONNECTION["memory_limit"] = f"{duckdb_memory}MB"
    # the list tables alone: one segment holding the bulk of a first load (its largest load step)
    tables = [name for name, table in TABLES.items() if not table.reads_per_deal] if lists_only else None

    with Sampler() as sampler:
        for step in ("extract", "normalize", "load"):
            sampler.wrap(Pipeline, step)
        if destination == "duckdb":
            target = Target("duckdb", f"{workdir}/bench.duckdb", f"{workdir}/pipelines")
        else:
            target = Target(destination, None, f"{workdir}/pipelines")
        settings = PipedriveSettings(base_url, TOKEN, rate_limit_burst=BURST)
        started = time.monotonic()
        result = run_source("pipedrive", target, settings=settings, tables=tables)
        seconds = time.monotonic() - started
    with open("/proc/self/status") as status:
        hwm = next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmHWM:"))
    print(json.dumps({"rows": sum(t.rows for t in result.tables), "seconds": seconds, "peak": sampler.peak,
                      "phase_seconds": sampler.seconds, "hwm": hwm}))


class Postgres:
    """A throwaway PostgreSQL cluster (as tests/conftest.py starts one); a fresh database per load."""

    def __init__(self) -> None:
        import pwd

        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                subprocess.run(["useradd", "--system", "--no-create-home", "postgres"], check=True)
        self.root = tempfile.mkdtemp(prefix="crm-elt-bench-pg-")
        self.data = os.path.join(self.root, "data")
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        subprocess.run(self._as(f"{PG_BIN}/initdb", "-D", self.data, "-A", "trust", "-U", "postgres"),
                       check=True, capture_output=True)
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        subprocess.run(self._as(f"{PG_BIN}/pg_ctl", "-D", self.data, "-o", f"-h 127.0.0.1 -p {self.port} -k {self.root}",
                                "-l", os.path.join(self.root, "log"), "-w", "start"), check=True, capture_output=True)
        self.url = f"postgresql://postgres:unused@127.0.0.1:{self.port}/postgres"

    @staticmethod
    def _as(*cmd: str) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else list(cmd)

    def database(self, name: str) -> str:
        import psycopg2

        con = psycopg2.connect(self.url)
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute(f"CREATE DATABASE {name}")
        con.close()
        return self.url.rsplit("/", 1)[0] + f"/{name}"

    def stop(self) -> None:
        subprocess.run(self._as(f"{PG_BIN}/pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop"),
                       capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


def measure(deals: int, destinations: list[str], postgres: Postgres | None, steps: bool,
            options: list[list[str]] = ([],)) -> None:
    started = time.monotonic()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(deals)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        base_url = server.stdout.readline().strip()
        print(f"\n{deals:,} deals (emulator ready in {time.monotonic() - started:.0f}s, own process)", flush=True)
        for destination, option in ((d, o) for d in destinations for o in options):
            with tempfile.TemporaryDirectory() as workdir:
                env = dict(os.environ)
                if destination == "postgres":
                    env["DESTINATION__POSTGRES__CREDENTIALS"] = postgres.database(f"bench_{deals}_{os.getpid()}")
                child = subprocess.run([sys.executable, __file__, "--load", base_url, "--destination", destination,
                                        "--workdir", workdir, *option], capture_output=True, text=True, cwd=ROOT,
                                       env=env)
                if child.returncode:
                    print(f"  {destination}: load failed\n{child.stdout[-2000:]}{child.stderr[-4000:]}")
                    continue
                lines = child.stdout.strip().splitlines()
                out = json.loads(lines[-1])
                peaks = "  ".join(f"{p} {out['peak'][p]:>5,.0f} MiB ({out['phase_seconds'][p]:.0f}s)" for p in PHASES)
                print(f"  {destination:<8} {' '.join(option):<16} {out['rows']:>9,} rows in {out['seconds']:6.1f}s  peak RSS {out['hwm']:,.0f} MiB"
                      f"  | {peaks}", flush=True)
                for line in lines[:-1] if steps else ():
                    if line.startswith("step "):
                        print(f"    {line}")
    finally:
        server.stdin.close()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deals", type=int, nargs="+", default=[2_000, 10_000, 50_000])
    parser.add_argument("--postgres", action="store_true", help="also load a throwaway PostgreSQL cluster")
    parser.add_argument("--no-duckdb", action="store_true", help="PostgreSQL only (with --postgres)")
    parser.add_argument("--steps", action="store_true", help="also each dlt step of each checkpoint segment")
    parser.add_argument("--lists-only", action="store_true",
                        help="the list tables only (no per-deal calls): the first segment's load, in minutes")
    parser.add_argument("--load-jobs", type=int, nargs="+", help="DuckDB load jobs in parallel (one load each)")
    parser.add_argument("--duckdb-memory", type=int, help="DuckDB memory_limit of the loader, MB")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--load", help=argparse.SUPPRESS)
    parser.add_argument("--destination", default="duckdb", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        return serve(args.serve)
    if args.load:
        return load(args.load, args.destination, args.workdir, args.lists_only, args.load_jobs and args.load_jobs[0],
                    args.duckdb_memory)
    destinations = ([] if args.no_duckdb else ["duckdb"]) + (["postgres"] if args.postgres else [])
    postgres = Postgres() if args.postgres else None
    try:
        common = [*(["--lists-only"] if args.lists_only else []),
                  *(["--duckdb-memory", str(args.duckdb_memory)] if args.duckdb_memory else [])]
        options = [[*common, "--load-jobs", str(n)] for n in args.load_jobs] if args.load_jobs else [common]
        for deals in args.deals:
            measure(deals, destinations, postgres, args.steps, options)
    finally:
        if postgres:
            postgres.stop()


if __name__ == "__main__":
    main()
