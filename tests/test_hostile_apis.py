"""APIs that misbehave for good (issue: hostile APIs): each fault is a sandbox switch; the pipeline never
loops, never spends tokens without progress, and says which table and endpoint failed."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from conftest import pg_rows, requires_postgres
from pipelines.cli import cli


def crm_elt(tmp_path, *args: str):
    return CliRunner().invoke(cli, [*args, "--duckdb", str(tmp_path / "crm.duckdb"),
                                    "--pipelines-dir", str(tmp_path / "state")], catch_exceptions=False)


@pytest.mark.parametrize("table, path", [("persons", "/api/v2/persons"),       # v2: next_cursor repeats
                                         ("notes", "/v1/notes")])             # v1: next_start repeats
def test_a_list_that_never_advances_fails_its_table_instead_of_looping(small_env, tmp_path, table, path):
    sb, _ = small_env
    sb.server.faults.add("stuck_page", path=f"^{path}$", times=10_000)
    sb.app.page_cap = 10                  # pages of 10: the pointer is stuck from the second page on
    result = crm_elt(tmp_path, "run", "pipedrive", "--tables", f"deals,{table}")
    assert result.exit_code == 1, result.output
    line = result.output.strip().splitlines()[-1]
    assert f"pipedrive.{table}: " in line and f"(GET {path})" in line and "stopped instead of looping" in line, line
    assert len(sb.server.requests_to(f"^{path}$")) <= 3, "no request is spent without progress"


def test_endless_429s_from_hotprofile_give_hotprofile_advice(hotprofile_sb, target):
    from conftest import no_sleep_hotprofile_client, run_hotprofile
    from sources._errors import ApiError

    hotprofile_sb.server.faults.add("429", times=10_000)
    with pytest.raises(ApiError) as caught:
        run_hotprofile(hotprofile_sb, target, tables=["clients"], client=no_sleep_hotprofile_client(hotprofile_sb))
    message = str(caught.value)
    assert "HotProfile kept answering 429" in message and "rate_limit_burst" not in message, message


def test_rows_listed_twice_in_a_response_load_once(small_env, tmp_path):
    """Whole lists (users, pipelines, stages, types, currencies, filters, fields), CDC lists and a rebuilt
    per-deal table (--full-refresh replaces it: no merge to de-duplicate) each keep one row per key."""
    from truth import assert_pipedrive_exact

    sb, _ = small_env
    assert crm_elt(tmp_path, "run", "pipedrive", "--quiet").exit_code == 0
    sb.server.faults.add("duplicate_rows", times=10_000)
    result = crm_elt(tmp_path, "run", "pipedrive", "--quiet", "--full-refresh", "deal_participants",
                     "--full-refresh", "users")
    assert result.exit_code == 0, result.output
    import duckdb

    with duckdb.connect(str(tmp_path / "crm.duckdb"), read_only=True) as con:
        assert_pipedrive_exact(sb, lambda sql: con.execute(sql).fetchall())


@pytest.mark.parametrize("warehouse", ["duckdb", pytest.param("postgres", marks=requires_postgres)])
def test_text_no_warehouse_can_store_is_kept_as_escapes_with_a_warning(small_env, tmp_path, warehouse, request,
                                                                     caplog):
    """A lone surrogate (valid JSON, not UTF-8) used to fail every run; NUL was dropped by Pipedrive's path and
    cannot be stored by Postgres. Both are stored as \\uXXXX escapes, the run succeeds and warns once."""
    pd, hp = small_env
    pd.update("deals", 1, title="nul\x00here")
    pd.update("persons", 2, name="lone\ud800surrogate")
    client = hp.ids("clients")[0]
    hp.update("clients", client, name="株式会社\x00テスト")
    args = ["run", "--destination", "postgres"] if warehouse == "postgres" else ["run"]
    if warehouse == "postgres":
        url = request.getfixturevalue("postgres_db")
        request.getfixturevalue("monkeypatch").setenv("DESTINATION__POSTGRES__CREDENTIALS", url)
        fetch = lambda sql: pg_rows(url, sql)                # noqa: E731
    else:
        import duckdb

        def fetch(sql):
            with duckdb.connect(str(tmp_path / "crm.duckdb"), read_only=True) as con:
                return con.execute(sql).fetchall()
    result = crm_elt(tmp_path, *args)
    assert result.exit_code == 0, result.output
    warnings = [r.getMessage() for r in caplog.records if r.name == "crm_elt.schema"]
    assert any(w.startswith("deals.title: a value held characters no warehouse stores") for w in warnings), warnings
    assert fetch("SELECT title FROM pipedrive.deals WHERE id = 1") == [("nul\\u0000here",)]
    assert fetch("SELECT name FROM pipedrive.persons WHERE id = 2") == [("lone\\ud800surrogate",)]
    assert fetch(f"SELECT name FROM hotprofile.clients WHERE id = {client}") == [("株式会社\\u0000テスト",)]


def test_the_first_budget_429_stops_every_worker_and_no_block_follows(small_env, tmp_path):
    sb, _ = small_env
    sb.server.faults.add("slow", path=r"/(flow|participants)$", delay=0.05, times=10_000)   # 16 in flight
    assert crm_elt(tmp_path, "run", "pipedrive", "--tables", "deals", "--quiet").exit_code == 0
    sb.daily_budget = sb.tokens_spent + 60 * 25          # about 60 per-deal calls, then the budget is spent
    sb.update("deals", 1, title="changed")               # (the per-deal tables have every deal queued)
    result = crm_elt(tmp_path, "run", "pipedrive", "--tables", "deals,dealflow,deal_participants")
    assert result.exit_code == 4, result.output
    assert "daily API budget" in result.output.strip().splitlines()[-1]
    calls = len(sb.server.requests_to(r"^/v1/deals/\d+/(flow|participants)$"))
    spent = sb.tokens_by_path
    charged = spent.get("/v1/deals/{id}/flow", 0) // 40 + spent.get("/v1/deals/{id}/participants", 0) // 10
    assert charged > 0 and calls == charged, f"{calls - charged} requests answered 429 (the budget was spent)"
    assert sb.app.limiter.banned_until == 0, "the token was blocked by Cloudflare"


def test_a_token_blocked_by_cloudflare_stops_the_run_with_exit_4_and_the_time(small_env, tmp_path):
    sb, _ = small_env
    sb.app.limiter.banned_until = sb.app.limiter.now() + 3600
    result = crm_elt(tmp_path, "run", "pipedrive", "--tables", "deals")
    assert result.exit_code == 4, result.output
    line = result.output.strip().splitlines()[-1]
    assert "blocked this token" in line and "403 from Cloudflare" in line, line


def test_rows_without_their_update_time_are_loaded_and_counted(small_env, tmp_path, caplog):
    from truth import assert_pipedrive_exact

    sb, _ = small_env
    for person in (2, 3):
        sb.update("persons", person, update_time=None)
    result = crm_elt(tmp_path, "run", "pipedrive", "--tables", "persons")
    assert result.exit_code == 0, result.output
    import duckdb

    with duckdb.connect(str(tmp_path / "crm.duckdb"), read_only=True) as con:
        assert_pipedrive_exact(sb, lambda sql: con.execute(sql).fetchall(), tables=("persons",))
    warnings = [r.getMessage() for r in caplog.records if r.name == "crm_elt.incremental"]
    assert warnings == ["persons: 2 row(s) came without their update time; loaded (a later change shows only "
                        "once the API stamps it)"], warnings


def test_one_failing_endpoint_fails_its_table_only(small_env, tmp_path):
    """A token without admin rights (403 on /v1/users): users fails, in one line naming it and the
    endpoint; every other table loads; status shows which; once fixed, the next run completes the copy."""
    from truth import assert_pipedrive_exact
    import duckdb

    sb, _ = small_env
    tables = "users,deals,dealflow,persons,activities,stages,notes"
    sb.server.faults.add("403", path="^/v1/users$", times=10_000)
    result = crm_elt(tmp_path, "run", "pipedrive", "--tables", tables)
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("crm-elt: ")]
    assert errors == ["crm-elt: pipedrive.users: Pipedrive denied access (403 Forbidden) (GET /v1/users): give the "
                      "user of sources.pipedrive.api_token (SOURCES__PIPEDRIVE__API_TOKEN) the permission to read it, "
                      "or use an admin's token (it reads every table)"], errors
    others = tuple(name for name in ("deals", "dealflow", "persons", "activities", "stages", "notes"))
    with duckdb.connect(str(tmp_path / "crm.duckdb"), read_only=True) as con:      # every other table loaded
        assert_pipedrive_exact(sb, lambda sql: con.execute(sql).fetchall(), tables=others)
    status = crm_elt(tmp_path, "status").output.splitlines()
    assert "FAILED" in next(line for line in status if line.startswith("pipedrive.users "))
    assert "FAILED" not in next(line for line in status if line.startswith("pipedrive.deals "))

    sb.server.faults.clear()                     # fixed: the next run loads the table, the copy is whole
    assert crm_elt(tmp_path, "run", "pipedrive", "--quiet", "--tables", tables).exit_code == 0
    with duckdb.connect(str(tmp_path / "crm.duckdb"), read_only=True) as con:
        assert_pipedrive_exact(sb, lambda sql: con.execute(sql).fetchall(), tables=("users", *others))


def test_an_endpoint_down_for_good_fails_its_table_and_keeps_its_cursor(small_env, target):
    from conftest import no_sleep_pipedrive_client, query, run_pipedrive
    from pipelines.runner import TablesFailed
    from truth import assert_pipedrive_exact

    sb, _ = small_env
    tables = ("deals", "dealflow", "persons", "activities", "stages")
    sb.server.faults.add("500", path="^/api/v2/persons$", times=10_000)
    with pytest.raises(TablesFailed) as caught:
        run_pipedrive(sb, target, tables=tables, client=no_sleep_pipedrive_client(sb))
    assert list(caught.value.failed) == ["persons"] and "HTTP 500" in caught.value.failed["persons"]
    assert_pipedrive_exact(sb, lambda sql: query(target, sql), tables=("deals", "dealflow", "activities", "stages"))
    sb.server.faults.clear()
    sb.server.clear_requests()
    run_pipedrive(sb, target, tables=tables)
    assert "updated_since" not in sb.server.requests_to("^/api/v2/persons$")[0].query, "no cursor was committed"
    assert_pipedrive_exact(sb, lambda sql: query(target, sql), tables=tables)


def test_a_deal_whose_calls_fail_for_good_is_retried_and_reported_by_id(small_env, target, caplog):
    """A permanent 500 for one deal (its flow, its participants, any deal_ids batch holding it): the other
    deals load and the cursors move; the deal stays queued, is read whole again by each later run, and is
    reported by id (exit 1) from its third failing run; once the API serves it, the copy is exact."""
    from conftest import no_sleep_pipedrive_client, query, run_pipedrive
    from pipelines.runner import TablesFailed
    from truth import assert_pipedrive_exact

    sb, _ = small_env
    per_deal = ("dealflow", "deal_participants", "deal_products")
    poison = 7

    def poisoned() -> None:
        sb.server.faults.add("500", path=rf"^/v1/deals/{poison}/(flow|participants)$", times=10_000)
        sb.server.faults.add("500", path=r"^/api/v2/deals/products$", query=rf"deal_ids=([^&]*,)?{poison}(,|&|$)",
                             times=10_000)

    def run():
        return run_pipedrive(sb, target, tables=["deals", *per_deal], client=no_sleep_pipedrive_client(sb))

    poisoned()
    run()                                                  # attempt 1: a warning, the rest loads
    warned = [r.getMessage() for r in caplog.records if "deal 7:" in r.getMessage()]
    assert len(warned) == 3 and all("HTTP 500" in w and "read again next run" in w for w in warned), warned
    def deals_in(table: str) -> set[int]:
        return {deal for (deal,) in query(target, f"SELECT DISTINCT deal_id FROM pipedrive.{table}")}

    first = {table: deals_in(table) for table in per_deal}
    sb.update("deals", poison, title="changed while failing")      # a flow event the retry must not miss
    sb.server.clear_requests()
    run()                                                  # attempt 2: still only a warning
    assert len(sb.server.requests_to(rf"^/v1/deals/{poison}/flow$")) > 1, "the deal was retried"
    with pytest.raises(TablesFailed) as caught:
        run()                                              # attempt 3: reported by id
    assert sorted(caught.value.failed) == sorted(per_deal)
    assert all(reason.startswith("deal 7 failed 3 runs in a row") for reason in caught.value.failed.values())
    sb.server.faults.clear()
    run()
    assert_pipedrive_exact(sb, lambda sql: query(target, sql), tables=("deals", *per_deal))
    for table in per_deal:                                 # the poison deal held back nothing else
        assert poison in deals_in(table) and first[table] == deals_in(table) - {poison}, table


def test_when_every_deal_fails_the_endpoint_fails_not_the_deals(small_env, target):
    """A flow endpoint failing for every deal fails the table after a few deals (no attempt is counted
    against the deals); the next run, with the endpoint back, completes the copy."""
    from conftest import no_sleep_pipedrive_client, pd_settings, query, run_pipedrive
    from pipelines.runner import TablesFailed
    from truth import assert_pipedrive_exact

    sb, _ = small_env
    sb.server.faults.add("500", path=r"^/v1/deals/\d+/flow$", times=10_000)
    with pytest.raises(TablesFailed) as caught:          # burst 8: 2 workers
        run_pipedrive(sb, target, tables=["deals", "dealflow"], client=no_sleep_pipedrive_client(sb),
                      settings=pd_settings(sb, rate_limit_burst=8))
    assert list(caught.value.failed) == ["dealflow"] and "HTTP 500" in caught.value.failed["dealflow"]
    deals = {r.path for r in sb.server.requests_to(r"^/v1/deals/\d+/flow$")}
    # 3 failures, plus at most the 2 × 2 calls submitted ahead of them
    assert len(deals) <= 3 + 2 * 2, f"{len(deals)} deals tried: the endpoint, not each deal, was failing"
    sb.server.faults.clear()
    run_pipedrive(sb, target, tables=["deals", "dealflow"])
    assert_pipedrive_exact(sb, lambda sql: query(target, sql), tables=("deals", "dealflow"))
