"""`crm-elt demo`: emulators → the real pipeline → DuckDB, with a summary and a query to try."""
from __future__ import annotations

from click.testing import CliRunner

from pipelines.cli import cli
from pipelines.runner import Target
from sources.hotprofile.settings import TABLES as HOTPROFILE
from sources.pipedrive.settings import TABLES as PIPEDRIVE
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
    assert "Try:" in result.output and "SELECT" in result.output
