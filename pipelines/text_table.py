"""Aligned plain-text tables for the terminal."""
from __future__ import annotations

from typing import Any, Sequence


def cell(value: Any) -> str:
    return "NULL" if value is None else str(value)


def format_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = [[cell(v) for v in header], *[[cell(v) for v in row] for row in rows]]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(line, widths)).rstrip() for line in lines)
