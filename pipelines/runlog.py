"""A small per-pipeline run log: ``<pipelines_dir>/<pipeline>.runs.json``, newest run last.

Each run: ``started_at``, ``finished_at`` (UTC ISO), ``ok``, ``error``, and per table ``rows``,
``requests``, ``tokens``, ``seconds``, ``cursor``. Read by ``crm-elt status``; also copied into the
warehouse as ``<dataset>._crm_elt_runs`` (see ``pipelines.warehouse_status``).
"""
from __future__ import annotations

import json
import os
import tempfile
from typing import Any

from pipelines.lock import pipelines_dir

KEEP_RUNS = 200


def log_path(configured_dir: str | None, pipeline_name: str) -> str:
    return os.path.join(pipelines_dir(configured_dir), f"{pipeline_name}.runs.json")


def read_runs(configured_dir: str | None, pipeline_name: str) -> list[dict[str, Any]]:
    try:
        with open(log_path(configured_dir, pipeline_name), encoding="utf-8") as fh:
            return json.load(fh).get("runs", [])
    except (FileNotFoundError, ValueError):
        return []


def append_run(configured_dir: str | None, pipeline_name: str, run: dict[str, Any]) -> None:
    """Add ``run`` and rewrite the file atomically (callers hold the pipeline lock)."""
    runs = (read_runs(configured_dir, pipeline_name) + [run])[-KEEP_RUNS:]
    path = log_path(configured_dir, pipeline_name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=".runs-", dir=os.path.dirname(path))
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"runs": runs}, fh, indent=1, default=str)
    os.replace(temp, path)


def last_run(runs: list[dict[str, Any]], table: str, ok_only: bool = False) -> tuple[dict, dict] | None:
    """The newest run (and its entry for ``table``) that touched ``table``; ``ok_only``: successful only."""
    for run in reversed(runs):
        if ok_only and not run.get("ok"):
            continue
        for entry in run.get("tables", []):
            # a table a stopped run (budget, interrupt) did not finish is no success of that run
            if entry.get("table") == table and not (ok_only and entry.get("complete") is False):
                return run, entry
    return None
