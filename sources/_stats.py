"""What one run measured, in one object: requests, tokens and retries (counted by the HTTP client),
extraction seconds per table, and why the run stopped early. The runner reads it after the load."""
from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass
class TableStats:
    requests: int = 0
    tokens: int = 0
    retries: int = 0
    seconds: float = 0.0
    rows: int = 0
    todo: int | None = None           # requests still to make, where the table knows (per-deal: deals queued)


class RunStats:
    """Per-table counters (``stats["deals"]``; ``"deals (reconcile)"`` for an id scan) and ``stopped``:
    the reason later tables were skipped (the API's daily budget ran out), or None."""

    def __init__(self) -> None:
        self.tables: dict[str, TableStats] = {}
        self.stopped: str | None = None         # why the run stopped early (budget, interrupt)
        self.stop_code: int = 0                  # that reason's exit code
        self.completed: list[str] = []           # tables whose read finished (their cursors commit)
        self.failed: dict[str, str] = {}         # tables whose endpoint failed: {table: one-line reason}
        self.checkpoint = False                  # the segment ended at a checkpoint: the runner goes on
        self.tokens = 0                          # the run's tokens so far, every table (the token caps)
        self.active: list[str] = []              # tables being read now (progress display)
        self._lock = threading.Lock()

    def __getitem__(self, table: str) -> TableStats:
        with self._lock:
            return self.tables.setdefault(table, TableStats())

    def get(self, table: str) -> TableStats | None:
        return self.tables.get(table)

    def count(self, table: str, *, requests: int = 0, tokens: int = 0, retries: int = 0,
              seconds: float = 0.0, rows: int = 0) -> None:
        """Add to a table's counters (thread-safe: per-deal reads run requests in parallel)."""
        with self._lock:
            stats = self.tables.setdefault(table, TableStats())
            stats.requests += requests
            stats.tokens += tokens
            stats.retries += retries
            stats.seconds += seconds
            stats.rows += rows
            self.tokens += tokens
