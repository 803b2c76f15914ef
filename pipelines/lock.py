"""One run per pipeline at a time: an exclusive ``fcntl.flock`` on ``<pipelines_dir>/<pipeline>.lock``.

The kernel drops a flock when its process dies, so a lock file left by a killed run is simply locked
again by the next run; the pid written inside is only there for the message.
"""
from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from typing import Iterator

from sources._errors import CrmEltError


class RunLocked(CrmEltError):
    exit_code = 3


def pipelines_dir(configured: str | None) -> str:
    if configured:
        return configured
    from dlt.common.pipeline import get_dlt_pipelines_dir

    return get_dlt_pipelines_dir()


def lock_path(configured_dir: str | None, pipeline_name: str) -> str:
    return os.path.join(pipelines_dir(configured_dir), f"{pipeline_name}.lock")


@contextmanager
def pipeline_lock(configured_dir: str | None, pipeline_name: str) -> Iterator[str]:
    """Hold the pipeline's lock for the block, or raise ``RunLocked`` at once when another run has it."""
    path = lock_path(configured_dir, pipeline_name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise RunLocked(f"another run of {pipeline_name} is in progress (pid {holder}, lock {path}); "
                            "this run exits without loading") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)          # closing the descriptor releases the flock
