"""`crm-elt sql`: queries the warehouse, prints a table, never writes to DuckDB."""
from __future__ import annotations

from click.testing import CliRunner

from conftest import run_pipedrive
from pipelines.cli import cli


def sql(target, *args: str):
    paths = ["--duckdb", target.duckdb_path, "--pipelines-dir", target.pipelines_dir]
    return CliRunner().invoke(cli, ["sql", *args, *paths], catch_exceptions=False)


def test_query_prints_an_aligned_table(pipedrive_sb, target):
    run_pipedrive(pipedrive_sb, target, tables=["deals"])
    result = sql(target, "SELECT status, count(*) AS deals FROM pipedrive.deals GROUP BY 1 ORDER BY 1")
    assert result.exit_code == 0, result.output
    header, *rows = result.output.splitlines()
    assert header.split() == ["status", "deals"]
    counts = {}
    for deal in pipedrive_sb.expected("deals"):
        counts[deal["status"]] = counts.get(deal["status"], 0) + 1
    assert {r.split()[0]: int(r.split()[1]) for r in rows} == counts
    assert all(r.index(r.split()[1], len(r.split()[0])) == header.index("deals") for r in rows)   # aligned


def test_duckdb_is_opened_read_only(pipedrive_sb, target):
    run_pipedrive(pipedrive_sb, target, tables=["deals"])
    result = sql(target, "CREATE TABLE pipedrive.scratch AS SELECT 1 AS x")
    assert result.exit_code == 1
    assert "read-only" in result.output.lower()


def test_bad_sql_and_missing_file(pipedrive_sb, target):
    run_pipedrive(pipedrive_sb, target, tables=["deals"])
    bad = sql(target, "SELEC 1")
    assert bad.exit_code == 1 and "query failed" in bad.output and len(bad.output.strip().splitlines()) == 1
    target.duckdb_path = target.duckdb_path + ".missing"
    missing = sql(target, "SELECT 1")
    assert missing.exit_code == 2 and "no DuckDB file" in missing.output
