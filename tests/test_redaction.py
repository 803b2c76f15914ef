"""Secrets never reach logs, errors, dlt state/trace files, the warehouse or CLI output."""
from __future__ import annotations

import logging

import pytest
from click.testing import CliRunner

from conftest import HP_KEY, PD_TOKEN, no_sleep_hotprofile_client, run_hotprofile
from pipelines.cli import cli
from sources._errors import ApiError


def files_containing(root, secret: str) -> list:
    return [p for p in root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


def test_hotprofile_key_absent_from_logs_errors_traces_and_warehouse(hotprofile_sb, target, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    run_hotprofile(hotprofile_sb, target, tables=["clients"])
    hotprofile_sb.server.faults.add("reset", path="get_entry_list_flow", times=1)
    hotprofile_sb.server.faults.add("500", path="get_entry_list_flow", times=10_000)       # down for good
    with pytest.raises(ApiError) as caught:
        run_hotprofile(hotprofile_sb, target, tables=["clients"], client=no_sleep_hotprofile_client(hotprofile_sb))
    assert all(call.query["api_key"] == HP_KEY for call in hotprofile_sb.server.requests)   # it was really sent
    assert HP_KEY not in str(caught.value) and HP_KEY not in caplog.text
    assert files_containing(tmp_path, HP_KEY) == []


def test_pipedrive_token_absent_from_verbose_cli_output_and_files(pipedrive_env, tmp_path):
    pipedrive_env.server.faults.add("503", path="/api/v2/deals$", times=1)
    pipedrive_env.server.faults.add("429", path="/api/v2/persons$", times=1)
    result = CliRunner().invoke(cli, ["-v", "run", "pipedrive", "--tables", "deal_fields,deals,persons",
                                      "--duckdb", str(tmp_path / "crm.duckdb"), "--pipelines-dir", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    assert all(r.headers.get("x-api-token") == PD_TOKEN for r in pipedrive_env.server.requests)
    assert PD_TOKEN not in result.output
    assert files_containing(tmp_path, PD_TOKEN) == []


def test_unreachable_hotprofile_leaves_no_key_in_the_dlt_trace(target, tmp_path):
    import socket

    from sources._http import hotprofile_client
    from sources.hotprofile import HotProfileSettings

    with socket.socket() as sock:                       # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    client = hotprofile_client(url, HP_KEY, sleep=lambda seconds: None)
    with pytest.raises(ApiError, match="unreachable"):
        run_hotprofile(None, target, tables=["clients"], client=client, settings=HotProfileSettings(url, HP_KEY))
    assert list((tmp_path / "pipelines").rglob("trace.pickle"))        # dlt did write a trace
    assert files_containing(tmp_path, HP_KEY) == []
