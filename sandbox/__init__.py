"""Local emulators of the Pipedrive and HotProfile APIs (for `crm-elt demo`, tests and benchmarks)."""
from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "PipedriveSandbox":
        from sandbox.pipedrive import PipedriveSandbox
        return PipedriveSandbox
    if name == "HotProfileSandbox":
        from sandbox.hotprofile import HotProfileSandbox
        return HotProfileSandbox
    raise AttributeError(name)
