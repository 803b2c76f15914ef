"""`crm-elt plan`: the next run's cost before it runs, from state and the API's cheapest counts."""
from __future__ import annotations

import re

from click.testing import CliRunner

from pipelines.cli import cli


def crm_elt(tmp_path, *args: str):
    where = ["--duckdb", str(tmp_path / "crm.duckdb"), "--pipelines-dir", str(tmp_path / "p")]
    return CliRunner().invoke(cli, [*args, *where], catch_exceptions=False)


def line(output: str, table: str) -> list[str]:
    return next(row for row in output.splitlines() if row.startswith(table + " ")).split()


def test_a_pipedrive_plan_reads_counts_not_lists_and_matches_the_run_it_plans(small_env, tmp_path, monkeypatch):
    sb, _ = small_env
    tables = "deals,dealflow"
    monkeypatch.setenv("SOURCES__PIPEDRIVE__MAX_TOKENS_PER_DAY", "2000")
    first = crm_elt(tmp_path, "plan", "pipedrive", "--tables", tables)
    assert first.exit_code == 0, first.output
    assert {r.path for r in sb.server.requests} == {"/v1/deals/summary", "/v1/deals/summary/archived"}
    live = sum(not deal["is_deleted"] for deal in sb.data.deals.values())
    assert line(first.output, "pipedrive.dealflow")[1:3] == [f"≥{live}", f"≥{live * 40}"]
    days = -(-int(line(first.output, "total")[2].lstrip("≥")) // 2000)
    assert f"under the caps: {days} day(s) at max_tokens_per_day = 2000 (2000 left today)" in first.output

    assert crm_elt(tmp_path, "run", "pipedrive", "--tables", tables).exit_code == 0      # stops at the cap
    planned = line(crm_elt(tmp_path, "plan", "pipedrive", "--tables", tables).output, "pipedrive.dealflow")
    queued = int(re.search(r"(\d+) deals queued", " ".join(planned))[1])
    assert 0 < queued < live and planned[1:3] == [f"≥{queued}", f"≥{queued * 40}"]
    monkeypatch.delenv("SOURCES__PIPEDRIVE__MAX_TOKENS_PER_DAY")
    sb.server.clear_requests()
    assert crm_elt(tmp_path, "run", "pipedrive", "--tables", tables).exit_code == 0
    assert len(sb.server.requests_to(r"/flow$")) == queued, "the plan named the calls the run made"


def test_a_hotprofile_plan_counts_the_changed_rows_with_one_call_each(small_env, tmp_path):
    _, hp = small_env
    assert crm_elt(tmp_path, "run", "hotprofile", "--quiet").exit_code == 0
    for client in hp.ids("clients")[:2]:
        hp.update("clients", client, name="changed")
    hp.server.clear_requests()
    result = crm_elt(tmp_path, "plan", "hotprofile")
    assert result.exit_code == 0, result.output
    planned = line(result.output, "hotprofile.clients")
    assert int(planned[3]) >= 2 and " ".join(planned[4:]) == "rows since the cursor (minus the lag)", planned
    assert "tokens" not in result.output.splitlines()[0]            # HotProfile counts calls, not tokens
    assert all(r.query["page[display_number]"] == "1" for r in hp.server.requests) and len(hp.server.requests) == 3
    hp.server.clear_requests()
    assert crm_elt(tmp_path, "run", "hotprofile", "--tables", "clients", "--quiet").exit_code == 0
    assert len(hp.server.requests) == int(planned[1]), "the plan named the calls the run made"
