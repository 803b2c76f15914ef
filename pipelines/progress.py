"""Progress people can read while a run goes: per active table its rows, requests, tokens and, for the
per-deal tables (which know how many deals are queued), an ETA at the client's paced rate.

On a terminal a live table (``rich``), refreshed twice a second; elsewhere (cron, a log file) one line at
most every ``every`` seconds. Both read the run's ``RunStats``; nothing here touches the API.
"""
from __future__ import annotations

import sys
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator, TextIO

from sources._stats import RunStats


def eta(todo: int | None, rate: float | None) -> str:
    if not todo or not rate:
        return ""
    seconds = int(todo / rate)
    return f"{todo} to go, ETA {seconds // 3600}h{seconds // 60 % 60:02d}m" if seconds >= 3600 else \
        f"{todo} to go, ETA {seconds // 60}m{seconds % 60:02d}s"


def lines(stats: RunStats, rate: Callable[[], float | None], tokens: bool = True) -> list[str]:
    """One line per table being read now (``tokens``: the API charges tokens; else only requests)."""
    out = []
    for name in list(stats.active):
        table = stats[name]
        extra = eta(table.todo, rate())
        out.append(f"{name}: rows={table.rows} requests={table.requests}"
                   + (f" tokens={table.tokens}" if tokens else "")
                   + (f" ({extra})" if extra else ""))
    return out


@contextmanager
def show_progress(mode: str, stats: RunStats, rate: Callable[[], float | None], *, every: float = 30.0,
                  stream: TextIO = sys.stderr, clock: Callable[[], float] = time.monotonic,
                  tick: float = 0.5, tokens: bool = True) -> Iterator[None]:
    """``mode``: ``"live"`` (a terminal), ``"lines"`` (a line at most every ``every`` s) or ``"off"``."""
    if mode == "off":
        yield
        return
    stop = threading.Event()
    if mode == "live":
        from rich.console import Console
        from rich.live import Live

        live = Live("", console=Console(file=stream), refresh_per_second=2, transient=True)

        def render() -> None:
            live.update("\n".join(lines(stats, rate, tokens)))
        live.start()
    else:
        last = [clock()]

        def render() -> None:
            if clock() - last[0] >= every:
                last[0] = clock()
                for line in lines(stats, rate, tokens):
                    print(f"crm-elt: progress: {line}", file=stream, flush=True)
    worker = threading.Thread(target=lambda: [render() for _ in iter(lambda: stop.wait(tick), True)],
                              name="crm-elt-progress", daemon=True)
    worker.start()
    try:
        yield
    finally:
        stop.set()
        worker.join()
        if mode == "live":
            live.stop()
