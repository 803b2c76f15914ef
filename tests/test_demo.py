"""`crm-elt demo`: emulators → the real pipeline → DuckDB, with a summary and a query to try."""
from __future__ import annotations

from click.testing import CliRunner

from pipelines.cli import cli
from pipelines.runner import Target
from sources.hotprofile.tables import TABLES as HOTPROFILE
from sources.pipedrive.tables import TABLES as PIPEDRIVE
from conftest import query


def test_demo_loads_every_table_and_says_how_to_query(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["demo", "--deals", "40", "--clients", "150"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    target = Target("duckdb", str(tmp_path / "crm.duckdb"))
    for dataset, registry in (("pipedrive", PIPEDRIVE), ("hotprofile", HOTPROFILE)):
        for table in registry:
            count = query(target, f'SELECT count(*) FROM {dataset}."{table}"')[0][0]
            assert count > 0, f"{dataset}.{table}"
            assert f"{dataset}.{table}" in result.output
    assert query(target, "SELECT count(*) FROM pipedrive.deals")[0][0] == 40
    assert query(target, "SELECT count(*) FROM hotprofile.clients")[0][0] == 150
    suggested = next(line for line in result.output.splitlines() if line.strip().startswith("duckdb "))
    by_status = query(target, suggested.split('"')[1])                    # the query the demo suggests runs
    assert by_status and sum(n for _, n, _ in by_status) == query(
        target, "SELECT count(*) FROM pipedrive.deals WHERE NOT is_deleted")[0][0]

    funnel = CliRunner().invoke(cli, ["sql", "select * from pipedrive.pipeline_funnel"], catch_exceptions=False)
    assert funnel.exit_code == 0, funnel.output                          # the analytics views are there
    assert funnel.output.splitlines()[0].split()[:4] == ["pipeline_id", "pipeline_name", "stage_id", "stage_name"]
    assert len(funnel.output.splitlines()) == 1 + query(target, "SELECT count(*) FROM pipedrive.stages")[0][0]
    assert "crm-elt sql --duckdb crm.duckdb \"SELECT * FROM pipedrive.pipeline_funnel\"" in result.output

    status = CliRunner().invoke(cli, ["status"], catch_exceptions=False)     # no local run log: the status view
    assert status.exit_code == 0, status.output
    deals = next(line for line in status.output.splitlines() if line.startswith("pipedrive.deals "))
    assert "never run" not in deals and "ok" in deals and "+00:00" in deals


def test_demo_data_and_real_data_never_share_a_file(tmp_path, monkeypatch, pipedrive_env):
    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(cli, ["demo", "--deals", "10", "--clients", "20"]).exit_code == 0
    real = CliRunner().invoke(cli, ["run", "pipedrive", "--tables", "deals", "--pipelines-dir", str(tmp_path / "p")])
    assert real.exit_code == 2 and "demo's sandbox data" in real.output and "--duckdb" in real.output
    ok = CliRunner().invoke(cli, ["run", "pipedrive", "--tables", "deals", "--pipelines-dir", str(tmp_path / "p"),
                                  "--duckdb", str(tmp_path / "real.duckdb")])
    assert ok.exit_code == 0, ok.output
    again = CliRunner().invoke(cli, ["demo", "--duckdb", str(tmp_path / "real.duckdb")])
    assert again.exit_code == 2 and "data of real runs" in again.output
