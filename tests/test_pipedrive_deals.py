"""Pipedrive deals end to end: sandbox API → real pipeline → DuckDB."""
from __future__ import annotations

from datetime import timedelta, timezone

from conftest import no_sleep_pipedrive_client, pd_settings, query, run_pipedrive
from pipelines.runner import run_source
from sources._incremental import Window, parse_time


def warehouse_deals(target) -> dict[int, tuple]:
    rows = query(target, "SELECT id, update_time, status, coalesce(is_deleted, false), title FROM pipedrive.deals")
    return {r[0]: (r[1].astimezone(timezone.utc), r[2], r[3], r[4]) for r in rows}


def sandbox_deals(sb) -> dict[int, tuple]:
    return {d["id"]: (parse_time(d["update_time"]), d["status"], bool(d.get("is_deleted")), d["title"])
            for d in sb.expected("deals")}


def deal_requests(sb) -> list:
    return sb.server.requests_to(r"^/api/v2/deals(/archived)?$")


def test_first_load_copies_every_deal_including_deleted_and_archived(pipedrive_sb, target):
    result = run_pipedrive(pipedrive_sb, target, tables=["deals"])
    expected = sandbox_deals(pipedrive_sb)
    assert warehouse_deals(target) == expected
    assert any(deleted for _, _, deleted, _ in expected.values())
    assert result.tables[0].rows == len(expected)
    for request in deal_requests(pipedrive_sb):
        assert request.query["limit"] == "500"
        assert request.query["sort_by"] == "update_time" and request.query["sort_direction"] == "asc"
        assert set(request.query["status"].split(",")) == {"open", "won", "lost", "deleted"}
        assert "updated_since" not in request.query          # no start_date: complete history
        assert request.headers["x-api-token"] and "api_token" not in request.query
    types = dict(query(target, "SELECT column_name, data_type FROM information_schema.columns "
                               "WHERE table_schema = 'pipedrive' AND table_name = 'deals'"))
    assert types["update_time"] == "TIMESTAMP WITH TIME ZONE"
    assert types["id"] == "BIGINT"


def test_incremental_run_converges_after_updates_same_second_updates_and_deletes(pipedrive_sb, target):
    run_pipedrive(pipedrive_sb, target, tables=["deals"])
    pipedrive_sb.tick(60)
    pipedrive_sb.mutate(seed=3, updates=25, inserts=7, deletes=5, same_second=6)
    pipedrive_sb.server.clear_requests()
    result = run_pipedrive(pipedrive_sb, target, tables=["deals"])
    assert warehouse_deals(target) == sandbox_deals(pipedrive_sb)
    since = {r.query["updated_since"] for r in deal_requests(pipedrive_sb)}
    assert len(since) == 1                                    # both endpoints start from the stored cursor
    assert 0 < result.tables[0].rows < 60                     # only changed deals travelled


def test_no_change_run_costs_one_request_per_endpoint_and_loads_nothing(pipedrive_sb, target):
    run_pipedrive(pipedrive_sb, target, tables=["deals"])
    pipedrive_sb.server.clear_requests()
    result = run_pipedrive(pipedrive_sb, target, tables=["deals"])
    assert len(deal_requests(pipedrive_sb)) == 2              # /deals + /deals/archived
    assert result.tables[0].rows == 0
    assert result.tables[0].tokens == 10 + 20


def test_updates_sharing_the_cursor_second_are_not_lost(pipedrive_sb, target):
    sb = pipedrive_sb
    run_pipedrive(sb, target, tables=["deals"])
    sb.tick(30)
    ids = sorted(d["id"] for d in sb.expected("deals") if d["status"] == "open")
    first, second, third = ids[:3]
    sb.update("deals", first, title="tie-1")
    run_pipedrive(sb, target, tables=["deals"])            # cursor is now exactly this second
    sb.update("deals", second, title="tie-2")               # same second, after the run
    sb.update("deals", first, title="tie-1 again")         # same row, same second, new content
    run_pipedrive(sb, target, tables=["deals"])
    deals = warehouse_deals(target)
    assert deals[first][3] == "tie-1 again"
    assert deals[second][3] == "tie-2"
    assert deals[first][0] == deals[second][0]               # truly the same update_time second
    sb.update("deals", third, title="tie-3")
    run_pipedrive(sb, target, tables=["deals"])
    assert warehouse_deals(target) == sandbox_deals(sb)


def test_backfill_window_loads_rows_without_moving_the_cursor(pipedrive_sb, target):
    sb = pipedrive_sb
    run_pipedrive(sb, target, tables=["deals"])
    pipeline = target.pipeline("pipedrive", None)
    cursor_before = pipeline.state["sources"]["pipedrive"]["resources"]["deals"]["cursor"]
    sb.tick(60)
    sb.mutate(seed=5, updates=10, inserts=0, deletes=0, same_second=0)
    window = Window(sb.clock - timedelta(seconds=30), sb.clock + timedelta(seconds=1))
    sb.server.clear_requests()
    run_source("pipedrive", target, settings=pd_settings(sb), tables=["deals"], window=window)
    for request in deal_requests(sb):
        assert parse_time(request.query["updated_since"]) == window.start.replace(microsecond=0)
        assert parse_time(request.query["updated_until"]) == window.end.replace(microsecond=0)
    assert warehouse_deals(target) == sandbox_deals(sb)
    pipeline = target.pipeline("pipedrive", None)
    assert pipeline.state["sources"]["pipedrive"]["resources"]["deals"]["cursor"] == cursor_before


def test_start_date_bounds_the_first_load(pipedrive_sb, target):
    sb = pipedrive_sb
    times = sorted(parse_time(d["update_time"]) for d in sb.expected("deals"))
    start = times[len(times) // 2]
    run_pipedrive(sb, target, tables=["deals"], settings=pd_settings(sb, start_date=start))
    loaded = warehouse_deals(target)
    assert loaded and all(t >= start for t, *_ in loaded.values())
    assert len(loaded) == sum(1 for t in times if t >= start)


def test_daily_budget_exhaustion_keeps_loaded_rows_and_next_run_continues(pipedrive_sb, target):
    sb = pipedrive_sb
    sb.daily_budget = sb.tokens_spent + 20 + 10              # dealFields and /deals fit, /deals/archived not
    result = run_pipedrive(sb, target, tables=["deals"])
    assert result.stopped and "budget" in result.stopped
    assert 0 < len(warehouse_deals(target)) < len(sandbox_deals(sb))
    sb.daily_budget = None
    result = run_pipedrive(sb, target, tables=["deals"])
    assert result.stopped is None
    assert warehouse_deals(target) == sandbox_deals(sb)


def test_token_never_reaches_dlt_state_or_trace_files(pipedrive_sb, target, tmp_path):
    from conftest import PD_TOKEN

    run_pipedrive(pipedrive_sb, target, tables=["deals"])
    pipedrive_sb.server.faults.add("500", path="/api/v2/deals", times=1)
    run_pipedrive(pipedrive_sb, target, tables=["deals"], client=no_sleep_pipedrive_client(pipedrive_sb))
    leaked = [p for p in (tmp_path / "pipelines").rglob("*") if p.is_file() and PD_TOKEN.encode() in p.read_bytes()]
    assert leaked == []
    assert PD_TOKEN.encode() not in (tmp_path / "crm.duckdb").read_bytes()
    assert len(pipedrive_sb.server.requests_to("/api/v2/deals$")) == 3   # first run, the 500, its retry


def test_optional_fields_are_asked_for_and_land_as_typed_columns(pipedrive_sb, target):
    from sources.pipedrive.columns import INCLUDE_FIELDS

    run_pipedrive(pipedrive_sb, target, tables=["deals", "persons", "organizations", "activities"])
    for path, table in (("/api/v2/deals$", "deals"), ("/api/v2/persons$", "persons"),
                        ("/api/v2/organizations$", "organizations"), ("/api/v2/activities$", "activities")):
        asked = pipedrive_sb.server.requests_to(path)[0].query["include_fields"].split(",")
        assert asked == list(INCLUDE_FIELDS[table])
    won = {d["id"]: d for d in pipedrive_sb.expected("deals") if d["status"] == "won"}
    rows = query(target, "SELECT id, first_won_time, products_count FROM pipedrive.deals "
                         f"WHERE id IN ({','.join(map(str, won))})")
    assert rows and all(first_won is not None for _, first_won, _ in rows)
    products = {}
    for item in pipedrive_sb.expected("deal_products"):
        products[item["deal_id"]] = products.get(item["deal_id"], 0) + 1
    assert {deal: count for deal, _, count in rows} == {deal: products.get(deal, 0) for deal in won}
    types = dict(query(target, "SELECT column_name, data_type FROM information_schema.columns "
                               "WHERE table_schema = 'pipedrive' AND table_name = 'deals'"))
    assert types["first_won_time"] == "TIMESTAMP WITH TIME ZONE" and types["products_count"] == "BIGINT"
    assert types["value"] == "DOUBLE"
    attendees = query(target, "SELECT count(*) FROM pipedrive.activities WHERE attendees IS NOT NULL")
    assert attendees[0][0] > 0


def test_backfill_of_a_per_deal_table_alone_reads_the_windows_deals(pipedrive_sb, target):
    """`backfill --tables dealflow`: its parent is not selected, so the window's deals are listed for it."""
    sb = pipedrive_sb
    window = Window(sb.clock - timedelta(days=20), sb.clock + timedelta(seconds=1))
    in_window = {d["id"] for d in sb.live("deals")
                 if parse_time(d["update_time"]) >= window.start.replace(microsecond=0)}
    assert 0 < len(in_window) < len(sb.live("deals"))
    sb.server.clear_requests()
    run_source("pipedrive", target, settings=pd_settings(sb), tables=["dealflow"], window=window)
    asked = {int(r.path.split("/")[3]) for r in sb.server.requests_to(r"^/v1/deals/\d+/flow$")}
    assert asked == in_window
    listed = sb.server.requests_to(r"^/api/v2/deals(/archived)?$")
    assert listed and all(r.query["updated_since"] for r in listed)
    loaded = {row[0] for row in query(target, "SELECT DISTINCT deal_id FROM pipedrive.dealflow")}
    assert loaded and loaded <= in_window


def test_deals_without_participants_or_products_cost_no_call(small_env, target):
    """The deals list counts each deal's participants and products: a deal with none now and none at the
    last read is not asked; one that loses its last is read once (its rows are marked), one that gains its
    first is read again. The copy stays exact."""
    from truth import assert_pipedrive_exact

    sb, _ = small_env
    tables = ("deals", "deal_participants", "deal_products")

    def run() -> None:
        sb.server.clear_requests()
        run_pipedrive(sb, target, tables=tables)
        assert_pipedrive_exact(sb, lambda sql: query(target, sql), tables=tables)

    def asked(deal: int) -> bool:
        return bool(sb.server.requests_to(rf"^/v1/deals/{deal}/participants$"))

    run()
    deals = {deal["id"] for deal in sb.expected("deals")}
    with_products = {row["deal_id"] for row in sb.data.deal_products.values()} & deals
    batched = {int(deal) for r in sb.server.requests_to(r"^/api/v2/deals/products$")
               for deal in r.query["deal_ids"].split(",")}
    assert batched == with_products < deals                  # deals without products are not in a batch

    deal = min(deals)
    for key in [key for key, row in sb.data.participants.items() if row["deal_id"] == deal]:
        sb.delete("participants", key)                       # its last participant goes
    run()
    assert asked(deal), "the deal lost its participants: read once to mark them"
    sb.update("deals", deal, title="no participants, changed")
    run()
    assert not asked(deal) and sb.server.requests_to(r"^/api/v2/deals$"), "nothing to read: no call"
    sb.insert("participants", deal_id=deal)                  # its first participant again
    run()
    assert asked(deal)
