"""What runs print: one summary line per table on stdout (none with --quiet), errors on stderr.

``--log-format json`` writes the same events as one JSON object per line, for log shippers.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import click

from pipelines.runner import RunResult
from sources._redact import redact


class JsonLines(logging.Handler):
    """Log records (ours, dlt's, libraries' warnings) as JSON lines on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = redact(record.getMessage())
            line = {"time": datetime.now(timezone.utc).isoformat(timespec="seconds"), "event": "log",
                    "level": record.levelname.lower(), "logger": record.name, "message": message}
            click.echo(json.dumps(line, default=str), err=True)
        except Exception:
            self.handleError(record)


def log_as_json() -> None:
    """Every line on stderr a JSON object: our logs, dlt's (its own handlers removed) and Python warnings."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(JsonLines())
    for name in ("dlt", "py.warnings"):
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.propagate = True
    logging.captureWarnings(True)


@dataclass
class Reporter:
    quiet: bool = False
    log_format: str = "text"      # "text" | "json"

    def __post_init__(self) -> None:
        if self.log_format == "json":
            log_as_json()

    def _json(self, event: str, err: bool, **fields: Any) -> None:
        record = {"time": datetime.now(timezone.utc).isoformat(timespec="seconds"), "event": event, **fields}
        click.echo(json.dumps(record, default=str), err=err)

    def result(self, result: RunResult) -> None:
        if self.quiet:
            return
        width = max((len(t.table) for t in result.tables), default=0)
        for t in result.tables:
            cost = {} if t.tokens is None else {"tokens": t.tokens}      # HotProfile: calls, no tokens
            if self.log_format == "json":
                self._json("table_loaded", False, dataset=result.dataset, table=t.table, rows=t.rows,
                           requests=t.requests, **cost, seconds=round(t.seconds, 3))
            else:
                tokens = "" if t.tokens is None else f"tokens={t.tokens:<6} "
                click.echo(f"{result.dataset}.{t.table:<{width}}  rows={t.rows:<7} requests={t.requests:<5} "
                           f"{tokens}{t.seconds:.1f}s")
        if self.log_format == "json":
            self._json("source_loaded", False, dataset=result.dataset, seconds=round(result.seconds, 3))
        else:
            click.echo(f"{result.dataset}: loaded in {result.seconds:.1f}s")

    def error(self, message: str, exit_code: int, source: str | None = None) -> None:
        if self.log_format == "json":
            self._json("error", True, source=source, message=message, exit_code=exit_code)
        else:
            click.echo(f"crm-elt: {source + ': ' if source else ''}{message}", err=True)

    def notice(self, message: str) -> None:
        """Waiting for a lock and the like: stderr, even with --quiet (cron logs show why a run was slow)."""
        if self.log_format == "json":
            self._json("notice", True, message=message)
        else:
            click.echo(f"crm-elt: {message}", err=True)
