"""`crm-elt status` and the warehouse's `status` view / `_crm_elt_runs` history."""
from __future__ import annotations

import duckdb
from click.testing import CliRunner

from conftest import query
from pipelines.cli import cli
from sources.hotprofile.tables import TABLES as HOTPROFILE_TABLES
from sources.pipedrive.tables import TABLES as PIPEDRIVE_TABLES


def invoke(tmp_path, *args: str):
    paths = ["--duckdb", str(tmp_path / "crm.duckdb"), "--pipelines-dir", str(tmp_path / "pipelines")]
    return CliRunner().invoke(cli, [*args, *paths], catch_exceptions=False)


def status_lines(tmp_path, *args: str) -> dict[str, str]:
    result = invoke(tmp_path, "status", *args)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["table", "cursor", "last_success"]
    return {line.split()[0]: line for line in lines[1:]}


def test_status_of_sources_never_run(tmp_path):
    missing = invoke(tmp_path, "status")
    assert missing.exit_code == 2 and missing.output.count("\n") == 1 and "no DuckDB file at" in missing.output
    duckdb.connect(str(tmp_path / "crm.duckdb")).close()
    lines = status_lines(tmp_path)
    expected = {f"pipedrive.{t}" for t in PIPEDRIVE_TABLES} | {f"hotprofile.{t}" for t in HOTPROFILE_TABLES}
    assert set(lines) == expected
    assert all("never run" in line for line in lines.values())


def test_status_after_runs_and_a_failure(pipedrive_env, tmp_path, monkeypatch):
    assert invoke(tmp_path, "run", "pipedrive", "--quiet", "--tables", "deals").exit_code == 0
    lines = status_lines(tmp_path)
    deals = lines["pipedrive.deals"].split()
    total = str(len(pipedrive_env.expected("deals")))
    assert deals[1].startswith("20")                                  # the cursor, an ISO timestamp
    assert deals[5] == total and deals[6] == total                    # rows last run, rows in the warehouse
    assert deals[-1] == "ok"
    assert "never run" in lines["hotprofile.clients"]

    monkeypatch.setenv("SOURCES__PIPEDRIVE__API_TOKEN", "wrong-token-0000")
    assert invoke(tmp_path, "run", "pipedrive", "--quiet", "--tables", "deals").exit_code == 2
    deals_line = status_lines(tmp_path)["pipedrive.deals"]
    assert "FAILED: " in deals_line and "401" in deals_line
    assert f" {total} " in deals_line                                 # the last success is still shown

    view = query_status_view(tmp_path)
    assert view["deals"][:2] == (int(total), int(total))             # rows_last_run, rows_total of last success
    assert view["deals"][2] is True and "401" in view["deals"][3]    # last_run_failed, error


def query_status_view(tmp_path) -> dict[str, tuple]:
    from pipelines.runner import Target

    target = Target("duckdb", str(tmp_path / "crm.duckdb"))
    rows = query(target, "SELECT table_name, rows_last_run, rows_total, last_run_failed, error, freshness "
                         "FROM pipedrive.status")
    assert all(row[5] is not None for row in rows)
    history = query(target, "SELECT count(*), count(*) FILTER (WHERE ok) FROM pipedrive._crm_elt_runs "
                            "WHERE table_name = 'deals'")
    assert history == [(2, 1)]
    return {row[0]: row[1:5] for row in rows}


def test_status_for_an_account(pipedrive_env, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCES__PIPEDRIVE__ACCOUNTS", '["eu"]')
    assert invoke(tmp_path, "run", "pipedrive", "--quiet", "--tables", "deals", "--account", "eu").exit_code == 0
    assert all("never run" in line for line in status_lines(tmp_path).values())
    lines = status_lines(tmp_path, "--account", "eu")
    assert "pipedrive_eu.deals" in lines and lines["pipedrive_eu.deals"].split()[-1] == "ok"


def test_status_and_sql_have_help():
    for command in ("status", "sql"):
        result = CliRunner().invoke(cli, [command, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output
