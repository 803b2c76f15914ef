"""The pipeline's own token caps (the company's daily budget is shared with every other integration):
a capped run stops before a request that would pass its cap, loads what it read, exits 0 and says it
continues; later runs finish the copy exactly."""
from __future__ import annotations

import duckdb
from click.testing import CliRunner

from conftest import pd_settings, run_pipedrive
from pipelines.cli import cli
from sources._caps import TokenCaps
from truth import assert_pipedrive_exact


def exact(sb, path: str, tables: tuple[str, ...] = ()) -> None:
    with duckdb.connect(path, read_only=True) as con:
        assert_pipedrive_exact(sb, lambda sql: con.execute(sql).fetchall(), tables=tables)


def test_a_first_load_capped_per_run_completes_over_several_runs(small_env, target):
    sb, _ = small_env
    tables = ("persons", "activities")
    sb.app.page_cap = 10                  # lists of many pages: a stop inside one resumes, not restarts
    spends, runs = [], 0
    while True:
        before = sb.tokens_spent
        result = run_pipedrive(sb, target, tables=tables, settings=pd_settings(sb, caps=TokenCaps(per_run=150)))
        spends.append(sb.tokens_spent - before)
        runs += 1
        assert spends[-1] <= 150, f"run {runs} spent {spends[-1]} tokens, over its cap"
        if not result.stopped:
            break
        assert result.stop_code == 0 and result.stopped.startswith("token cap reached (max_tokens_per_run = 150)")
        assert runs < 10, "no progress"
    assert runs >= 2, spends
    exact(sb, target.duckdb_path, tables)
    pages = {path: -(-len(sb.expected(table)) // 10) for path, table in (("^/api/v2/persons$", "persons"),
                                                                          ("^/api/v2/activities$", "activities"))}
    for path, count in pages.items():         # each page read once (plus the page a stop re-reads)
        assert len(sb.server.requests_to(path)) <= count + runs, path


def test_the_daily_cap_counts_every_run_of_the_day(small_env, tmp_path, monkeypatch):
    sb, _ = small_env
    where = ["--duckdb", str(tmp_path / "crm.duckdb"), "--pipelines-dir", str(tmp_path / "p")]
    args = ["run", "pipedrive", "--tables", "deals,dealflow", *where]
    monkeypatch.setenv("SOURCES__PIPEDRIVE__MAX_TOKENS_PER_DAY", "2000")
    first = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert "token cap reached (max_tokens_per_day = 2000, 0 spent earlier today)" in first.output
    spent = sb.tokens_spent
    assert spent <= 2000
    status = CliRunner().invoke(cli, ["status", *where], catch_exceptions=False).output
    assert "deals queued" in status and "the next run continues" in status, status

    second = CliRunner().invoke(cli, args, catch_exceptions=False)          # the same day: little or nothing left
    assert second.exit_code == 0 and "token cap reached" in second.output, second.output
    assert sb.tokens_spent <= 2000, "the day's cap counts the earlier run"

    monkeypatch.setenv("SOURCES__PIPEDRIVE__MAX_TOKENS_PER_DAY", "100000")   # raised: the copy completes
    third = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert third.exit_code == 0 and "token cap" not in third.output, third.output
    exact(sb, str(tmp_path / "crm.duckdb"), ("deals", "dealflow"))
