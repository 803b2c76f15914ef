"""Progress while a run goes: rows, requests, tokens per active table and an ETA for per-deal tables."""
from __future__ import annotations

import io
import threading

from pipelines.progress import eta, lines, show_progress
from sources._stats import RunStats


def busy_stats() -> RunStats:
    stats = RunStats()
    stats.active.append("dealflow")
    stats.count("dealflow", requests=120, tokens=4800, rows=950)
    stats["dealflow"].todo = 3000
    return stats


def test_a_line_per_active_table_with_an_eta_at_the_paced_rate():
    assert lines(busy_stats(), lambda: 10.0) == [
        "dealflow: rows=950 requests=120 tokens=4800 (3000 to go, ETA 5m00s)"]
    assert eta(36_000, 10.0) == "36000 to go, ETA 1h00m" and eta(None, 10.0) == "" and eta(5, None) == ""


def test_off_a_terminal_at_most_one_line_every_30_seconds():
    now = [0.0]
    ticks = threading.Semaphore(0)
    stream = io.StringIO()

    def clock() -> float:
        ticks.release()
        return now[0]

    with show_progress("lines", busy_stats(), lambda: 10.0, stream=stream, clock=clock, tick=0.001):
        for moment in (10.0, 29.0, 30.0, 45.0, 61.0):
            now[0] = moment
            for _ in range(3):                       # let the display thread look at this moment
                ticks.acquire()
    printed = stream.getvalue().splitlines()
    assert printed == ["crm-elt: progress: dealflow: rows=950 requests=120 tokens=4800 (3000 to go, ETA 5m00s)"] * 2


def test_on_a_terminal_a_live_display_that_leaves_nothing_behind():
    stream = io.StringIO()
    with show_progress("live", busy_stats(), lambda: 10.0, stream=stream, tick=0.001):
        pass
    assert "Traceback" not in stream.getvalue()
