"""DuckDB admits one writer process, and an open connection in another process (even read-only) blocks
it. Loads wait for the file for a bounded time; ``publish`` hands analysts a copy they may keep open."""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from typing import Callable, TypeVar

import duckdb

from sources._errors import CrmEltError

LOCK_MESSAGE = "Could not set lock on file"
DEFAULT_LOCK_TIMEOUT = 300.0
T = TypeVar("T")


class DuckDBLocked(CrmEltError):
    exit_code = 1


def is_locked_error(exc: BaseException | None) -> bool:
    """True when ``exc`` (or anything it wraps, as dlt does) is DuckDB's file lock conflict."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if LOCK_MESSAGE in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def holder(exc: BaseException) -> str:
    """DuckDB's 'Conflicting lock is held in <program> (PID n)' part, when present."""
    text = str(exc)
    while LOCK_MESSAGE not in text and (exc.__cause__ or exc.__context__):
        exc = exc.__cause__ or exc.__context__
        text = str(exc)
    start = text.find("Conflicting lock")
    return text[start:text.find(")", start) + 1] if start >= 0 else "another process"


def retry_while_locked(attempt: Callable[[], T], path: str, timeout: float,
                       on_wait: Callable[[str], None] = lambda message: None,
                       before_retry: Callable[[], None] = lambda: None) -> T:
    """Call ``attempt`` until it stops failing on the DuckDB file lock or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    announced = False
    while True:
        try:
            return attempt()
        except Exception as exc:
            if not is_locked_error(exc):
                raise
            left = deadline - time.monotonic()
            if left <= 0:
                raise DuckDBLocked(
                    f"DuckDB file {path} stayed locked for {timeout:g}s ({holder(exc)}): close other "
                    "connections to it (analysts: open the --publish copy), or raise --lock-timeout") from None
            if not announced:
                on_wait(f"DuckDB file {path} is locked ({holder(exc)}); waiting up to {timeout:g}s")
                announced = True
            time.sleep(min(0.5, left))
            before_retry()


def connect(path: str, read_only: bool, timeout: float = DEFAULT_LOCK_TIMEOUT,
            on_wait: Callable[[str], None] = lambda message: None) -> duckdb.DuckDBPyConnection:
    return retry_while_locked(lambda: duckdb.connect(path, read_only=read_only), path, timeout, on_wait)


def publish(path: str, copy_to: str, timeout: float = DEFAULT_LOCK_TIMEOUT,
            on_wait: Callable[[str], None] = lambda message: None) -> None:
    """Atomically replace ``copy_to`` with a consistent copy of ``path`` (checkpointed, no writer meanwhile).

    Readers that have the old copy open keep reading it; new connections see the new one.
    """
    folder = os.path.dirname(os.path.abspath(copy_to))
    os.makedirs(folder, exist_ok=True)
    with connect(path, read_only=False, timeout=timeout, on_wait=on_wait) as con:
        con.execute("CHECKPOINT")            # everything in the main file, WAL empty
        fd, temp = tempfile.mkstemp(prefix=".publish-", suffix=".duckdb", dir=folder)
        os.close(fd)
        try:
            shutil.copyfile(path, temp)      # the open connection keeps other writers out while copying
            os.chmod(temp, 0o444)
            os.replace(temp, copy_to)
        except BaseException:
            os.unlink(temp)
            raise
