"""A graceful stop asked for from outside the run (the CLI turns SIGINT/SIGTERM into one): the HTTP client
raises ``Interrupted`` before its next request, so a table ends at a page boundary, what was read is
loaded and every completed table keeps its cursor. Process-wide, like the signals it stands for."""
from __future__ import annotations

import signal

from sources._errors import Interrupted

_requested: int = 0


def request(signum: int) -> None:
    global _requested
    _requested = signum


def requested() -> int:
    """The signal number a stop was asked with, or 0."""
    return _requested


def clear() -> None:
    request(0)


def raise_if_requested() -> None:
    if _requested:
        name = "SIGTERM" if _requested == signal.SIGTERM else "SIGINT"
        raise Interrupted(f"interrupted by {name}", 128 + _requested)
