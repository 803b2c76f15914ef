"""What runs print for cron and log shippers: --log-format json on stdout, errors as JSON on stderr."""
from __future__ import annotations

import json

from click.testing import CliRunner

from pipelines.cli import cli


def invoke(tmp_path, *args: str):
    paths = ["--duckdb", str(tmp_path / "crm.duckdb"), "--pipelines-dir", str(tmp_path / "pipelines")]
    return CliRunner().invoke(cli, [*args, *paths], catch_exceptions=False)


def test_json_summary_one_object_per_line(pipedrive_env, tmp_path):
    result = invoke(tmp_path, "run", "pipedrive", "--tables", "deals", "--log-format", "json")
    assert result.exit_code == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["event"] for e in events] == ["table_loaded", "source_loaded"]
    assert events[0]["table"] == "deals" and events[0]["rows"] == len(pipedrive_env.expected("deals"))
    assert {"requests", "tokens", "seconds", "time", "dataset"} <= set(events[0])
    assert result.stderr == ""


def test_json_error_on_stderr_with_exit_code(pipedrive_env, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCES__PIPEDRIVE__API_TOKEN", "wrong-token-1111")
    result = invoke(tmp_path, "run", "pipedrive", "--tables", "deals", "--log-format", "json")
    assert result.exit_code == 2 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    error = json.loads(line)
    assert error["event"] == "error" and error["exit_code"] == 2 and error["source"] == "pipedrive"
    assert "401" in error["message"] and "wrong-token-1111" not in line


def test_quiet_json_prints_nothing_on_success(pipedrive_env, tmp_path):
    result = invoke(tmp_path, "run", "pipedrive", "--tables", "deals", "--log-format", "json", "--quiet")
    assert result.exit_code == 0 and result.stdout == "" and result.stderr == ""


def test_json_mode_writes_only_json_on_stderr_also_for_warnings(pipedrive_env, tmp_path):
    import warnings

    pipedrive_env.server.faults.add("500", path="^/api/v2/deals$", times=1)     # one retry: a warning log line
    warnings.simplefilter("always")
    result = invoke(tmp_path, "run", "pipedrive", "--tables", "deals", "--log-format", "json")
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    records = [json.loads(line) for line in lines]                  # every line is JSON
    assert any(r["event"] == "log" and r["level"] == "warning" and "retry 1/" in r["message"] for r in records)
