"""What a run would cost, table by table, before it runs (``crm-elt plan``).

Each source estimates from what its state knows (cursors, queued deals) and the cheapest counts its API
offers; ``Estimate.exact`` says whether the figure is a floor (rows not countable before reading them).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Estimate:
    table: str
    requests: int
    tokens: int
    note: str = ""
    exact: bool = True             # False: a floor (the API cannot count these rows before they are read)


def pages(rows: int, page_size: int) -> int:
    """Requests to list ``rows`` rows (an empty list still costs one)."""
    return max(1, -(-rows // page_size))
