"""The stored cursor, at the second the APIs stamp and filter in."""
from __future__ import annotations

from datetime import datetime, timezone

from sources._incremental import Cursor, RunContext, parse_time

START = datetime(2026, 12, 3, 12, 0, 5, 734_000, tzinfo=timezone.utc)     # the run started inside second :05


def rows(*items: tuple[int, str, str]) -> list[dict]:
    return [{"id": key, "title": title, "update_time": stamp} for key, title, stamp in items]


def test_a_cursor_capped_at_the_runs_start_keeps_that_seconds_rows_as_loaded():
    """Rows stamped in the second the run started (and later: changes made while it read) are re-listed by
    the next run (``updated_since`` is inclusive, in whole seconds); the unchanged ones are not loaded again,
    a row changed again within that second is."""
    state: dict = {}
    first = Cursor(state, table="deals", ctx=RunContext(now=lambda: START), start_date=None, cap_at_run_start=True)
    page = rows((1, "a", "2026-12-03 12:00:05"), (2, "b", "2026-12-03 12:00:05"), (3, "c", "2026-12-03 12:00:09"))
    assert [row["id"] for row in first.filter(page, lambda row: parse_time(row["update_time"]))] == [1, 2, 3]
    first.commit()
    assert state["cursor"] == "2026-12-03T12:00:05+00:00"

    later = RunContext(now=lambda: START.replace(minute=5))
    second = Cursor(state, table="deals", ctx=later, start_date=None, cap_at_run_start=True)
    assert second.since == datetime(2026, 12, 3, 12, 0, 5, tzinfo=timezone.utc)
    listed = rows((1, "a", "2026-12-03 12:00:05"), (2, "b2", "2026-12-03 12:00:05"), (3, "c", "2026-12-03 12:00:09"))
    assert [row["id"] for row in second.filter(listed, lambda row: parse_time(row["update_time"]))] == [2]
