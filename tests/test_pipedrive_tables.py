"""Every Pipedrive table end to end: first load, convergence after mutations, request economy."""
from __future__ import annotations

from collections import Counter

import pytest

from conftest import pd_settings, query, run_pipedrive
from truth import assert_pipedrive_exact
from sources._incremental import parse_time
from sources.pipedrive.readers import CDC, CDC_NEWEST_FIRST, FIELDS, FULL
from sources.pipedrive.tables import TABLES

# warehouse table → (sandbox table, key of the API object)
SANDBOX = {
    "deals": "deals", "persons": "persons", "organizations": "organizations", "activities": "activities",
    "products": "products", "pipelines": "pipelines", "stages": "stages", "deal_products": "deal_products",
    "deal_participants": "participants", "leads": "leads", "notes": "notes", "files": "files", "users": "users",
    "activity_types": "activity_types", "currencies": "currencies", "filters": "filters",
    "deal_fields": "deal_fields", "person_fields": "person_fields", "organization_fields": "organization_fields",
    "product_fields": "product_fields", "activity_fields": "activity_fields",
}
CDC_PATHS = ["/api/v2/deals", "/api/v2/deals/archived", "/api/v2/persons", "/api/v2/organizations",
             "/api/v2/activities", "/api/v2/products", "/v1/leads", "/v1/leads/archived", "/v1/notes", "/v1/files"]


def expected_keys(sb, table: str) -> set:
    if table == "dealflow":
        return {item["data"]["id"] for item in sb.expected("flow") if item["object"] == "dealChange"}
    key = TABLES[table].primary_key
    return {row[key] for row in sb.expected(SANDBOX[table])}


def loaded_keys(target, table: str) -> set:
    key = TABLES[table].primary_key
    return {row[0] for row in query(target, f'SELECT "{key}" FROM pipedrive."{table}"')}


def assert_exact_copy(sb, target) -> None:
    assert_pipedrive_exact(sb, lambda sql: query(target, sql))


@pytest.fixture(scope="module")
def first_load(tmp_path_factory):
    """One first load of the ``pipedrive_sb`` data set (same seed: same data), copied into each test."""
    from sandbox.pipedrive import PipedriveSandbox

    from conftest import PD_TOKEN
    from pipelines.runner import Target

    root = tmp_path_factory.mktemp("pipedrive-first-load")
    target = Target("duckdb", str(root / "crm.duckdb"), str(root / "pipelines"))
    with PipedriveSandbox(seed=7, deals=300, token=PD_TOKEN, burst=10_000) as sb:
        result = run_pipedrive(sb, target)
    assert result.stopped is None
    return target, result


@pytest.fixture
def loaded(first_load, pipedrive_sb, target):
    """The warehouse and pipeline state after a first load of ``pipedrive_sb``."""
    import shutil

    pristine, result = first_load
    shutil.copy(pristine.duckdb_path, target.duckdb_path)
    shutil.copytree(pristine.pipelines_dir, target.pipelines_dir)
    return result


def test_first_load_copies_every_table(pipedrive_sb, target, loaded):
    assert_exact_copy(pipedrive_sb, target)
    assert {t.table for t in loaded.tables} == set(TABLES)
    leads = query(target, "SELECT id FROM pipedrive.leads LIMIT 1")[0][0]
    assert isinstance(leads, str) and len(leads) == 36              # UUID primary key
    archived = [lead["id"] for lead in pipedrive_sb.expected("leads") if lead["is_archived"]]
    assert archived and set(archived) <= loaded_keys(target, "leads")


def test_second_run_converges_after_random_mutations(pipedrive_sb, target, loaded):
    sb = pipedrive_sb
    sb.tick(120)
    changes = sb.mutate(seed=11, updates=40, inserts=10, deletes=6, same_second=5)
    assert changes["deleted"]
    run_pipedrive(sb, target, reconcile=True)          # deletes the lists hide arrive through the id scan
    assert_exact_copy(sb, target)
    deleted = [i for t, i in changes["deleted"] if t == "deals"]
    flags = dict(query(target, f"SELECT id, is_deleted FROM pipedrive.deals WHERE id IN ({','.join(map(str, deleted))})"))
    assert flags and all(flags.values())


def test_no_change_run_costs_one_request_per_cdc_endpoint(pipedrive_sb, target, loaded):
    sb = pipedrive_sb
    sb.server.clear_requests()
    result = run_pipedrive(sb, target)
    paths = Counter(r.path for r in sb.server.requests)
    for path in CDC_PATHS:
        assert paths[path] == 1, path
    assert not any("/flow" in p or "/participants" in p or p == "/api/v2/deals/products" for p in paths)
    assert sum(t.rows for t in result.tables if TABLES[t.table].read in (CDC, CDC_NEWEST_FIRST)) == 0
    assert sum(paths.values()) == len(CDC_PATHS) + sum(
        len(t.endpoints) for t in TABLES.values() if t.read in (FULL, FIELDS))


def test_children_only_for_changed_deals(pipedrive_sb, target, loaded):
    sb = pipedrive_sb
    sb.tick(60)
    open_ids = sorted(d["id"] for d in sb.expected("deals") if d["status"] == "open")[:3]
    for deal_id in open_ids:
        sb.update("deals", deal_id, title=f"changed {deal_id}")
    sb.server.clear_requests()
    run_pipedrive(sb, target)
    flows = sorted(int(r.path.split("/")[3]) for r in sb.server.requests_to(r"/flow$"))
    assert flows == open_ids
    assert sorted(int(r.path.split("/")[3]) for r in sb.server.requests_to(r"/participants$")) == open_ids
    batches = sb.server.requests_to(r"^/api/v2/deals/products$")
    assert len(batches) == 1 and sorted(map(int, batches[0].query["deal_ids"].split(","))) == open_ids
    assert_exact_copy(sb, target)


def test_dealflow_emits_only_events_newer_than_its_cursor(pipedrive_sb, target, loaded):
    sb = pipedrive_sb
    sb.tick(60)
    deal_id = next(d["id"] for d in sb.expected("deals") if d["status"] == "open")
    sb.update("deals", deal_id, title="flow me")
    result = run_pipedrive(sb, target, tables=["deals", "dealflow"])
    flow_rows = next(t.rows for t in result.tables if t.table == "dealflow")
    new_events = [i for i in sb.expected("flow") if i["object"] == "dealChange"
                  and i["data"]["item_id"] == deal_id and parse_time(i["data"]["log_time"]) == sb.clock]
    assert 1 <= flow_rows == len(new_events)


def test_budget_exhaustion_mid_run_keeps_progress_and_next_run_finishes(pipedrive_sb, target):
    sb = pipedrive_sb
    sb.daily_budget = sb.tokens_spent + 2_000            # enough for lists, runs out inside dealflow
    first = run_pipedrive(sb, target)
    assert first.stopped and "budget" in first.stopped
    assert loaded_keys(target, "deals") == expected_keys(sb, "deals")
    partial = loaded_keys(target, "dealflow")
    assert 0 < len(partial) < len(expected_keys(sb, "dealflow"))
    sb.daily_budget = None
    sb.server.clear_requests()
    second = run_pipedrive(sb, target)
    assert second.stopped is None
    assert_exact_copy(sb, target)
    assert len(sb.server.requests_to(r"/flow$")) < len(expected_keys(sb, "deals"))   # continued, not restarted


def test_full_refresh_rescans_one_table(pipedrive_sb, target, loaded):
    sb = pipedrive_sb
    sb.server.clear_requests()
    result = run_pipedrive(sb, target, tables=["persons"], full_refresh=["persons"])
    assert "updated_since" not in sb.server.requests_to("/api/v2/persons$")[0].query
    assert result.tables[0].rows == len(sb.expected("persons"))
    assert loaded_keys(target, "persons") == expected_keys(sb, "persons")


def test_early_stop_reads_only_the_newest_page(target):
    from conftest import PD_TOKEN
    from sandbox.pipedrive import PipedriveSandbox

    with PipedriveSandbox(seed=3, deals=1200, token=PD_TOKEN, burst=10_000) as sb:
        run_pipedrive(sb, target, tables=["notes"])
        assert len(sb.server.requests_to("/v1/notes$")) == 3     # 1200 notes, 500 a page
        sb.tick(60)
        note = sb.expected("notes")[0]["id"]
        sb.update("notes", note, content="<p>edited</p>")
        sb.server.clear_requests()
        result = run_pipedrive(sb, target, tables=["notes"])
        assert len(sb.server.requests_to("/v1/notes$")) == 1
        assert result.tables[0].rows == 1
        assert query(target, f"SELECT content FROM pipedrive.notes WHERE id = {note}") == [("<p>edited</p>",)]


def test_backfill_of_all_tables_keeps_every_cursor(pipedrive_sb, target, loaded):
    from datetime import timedelta

    from pipelines.runner import run_source
    from sources._incremental import Window

    pipeline = target.pipeline("pipedrive", None)
    before = {name: state.get("cursor") for name, state in pipeline.state["sources"]["pipedrive"]["resources"].items()}
    sb = pipedrive_sb
    run_source("pipedrive", target, settings=pd_settings(sb), window=Window(sb.clock - timedelta(days=30), sb.clock))
    after = target.pipeline("pipedrive", None).state["sources"]["pipedrive"]["resources"]
    assert {name: after[name].get("cursor") for name in before} == before


def test_pacing_keeps_the_burst_window_full_without_a_single_429(target):
    from conftest import PD_TOKEN
    from sandbox.pipedrive import PipedriveSandbox
    from sources._http import pipedrive_client

    with PipedriveSandbox(seed=5, deals=40, token=PD_TOKEN, burst=10, window=0.5) as sb:
        client = pipedrive_client(sb.base_url, PD_TOKEN, burst=10, window=0.5)
        result = run_pipedrive(sb, target, tables=["deal_fields", "deals", "dealflow"], client=client)
        assert sb.app.limiter.limited_total == 0
        assert sum(t.requests for t in result.tables) == len(sb.server.requests) > 40
        assert client.pacer.waited > 0          # the pacer, not the server, did the waiting


def test_renamed_field_keeps_its_column_and_new_options_get_labels(pipedrive_sb, target, loaded):
    sb = pipedrive_sb
    fields = {f["name"]: f for f in sb.expected("deal_fields") if f.get("edit_flag")}
    enum = next(f for f in fields.values() if f["field_type"] == "enum")
    column = query(target, f"SELECT \"column\" FROM pipedrive.custom_fields WHERE hash = '{enum['key']}'")[0][0]
    sb.rename_field("deal", enum["key"], "Totally New Name")
    option = sb.add_option("deal", enum["key"], "Brand-new option")
    sb.tick(30)
    deal_id = next(d["id"] for d in sb.expected("deals") if d["status"] == "open")
    sb.update("deals", deal_id, custom_fields={enum["key"]: option})
    run_pipedrive(sb, target)
    assert query(target, f"SELECT name, \"column\" FROM pipedrive.custom_fields WHERE hash = '{enum['key']}'") == [
        ("Totally New Name", column)]
    assert query(target, f'SELECT "{column}" FROM pipedrive.deals WHERE id = {deal_id}') == [("Brand-new option",)]
    columns = {r[0] for r in query(target, "SELECT column_name FROM information_schema.columns "
                                           "WHERE table_schema = 'pipedrive' AND table_name = 'deals'")}
    assert "totally_new_name" not in columns and not any(c.startswith("custom_fields") for c in columns)


def test_field_created_during_a_run_is_not_dropped(pipedrive_sb, target):
    sb = pipedrive_sb
    created = {}
    serve = sb.server.app

    def create_field_before_first_deals_page(request):
        if request.path == "/api/v2/deals" and not created:          # after dealFields was read
            created["key"] = sb.add_field("deal", "Created Mid Run")
            deal_id = next(d["id"] for d in sb.expected("deals") if d["status"] == "open")
            created["deal"] = deal_id
            sb.update("deals", deal_id, custom_fields={created["key"]: "fresh value"})
        return serve(request)

    sb.server.app = create_field_before_first_deals_page
    run_pipedrive(sb, target, tables=["deal_fields", "deals", "custom_fields"])
    assert query(target, f"SELECT created_mid_run FROM pipedrive.deals WHERE id = {created['deal']}") == [
        ("fresh value",)]
    assert len(sb.server.requests_to("/v1/dealFields$")) == 2          # fetched again once


def test_run_stopped_by_the_budget_never_empties_full_tables(pipedrive_sb, target, loaded):
    sb = pipedrive_sb
    before = {t: len(loaded_keys(target, t)) for t in ("users", "stages", "pipelines", "deal_fields", "custom_fields")}
    sb.daily_budget = sb.tokens_spent                       # exhausted: the first request of the day is refused
    result = run_pipedrive(sb, target)
    assert result.stopped
    assert {t: len(loaded_keys(target, t)) for t in before} == before
    sb.daily_budget = sb.tokens_spent + 20                  # personFields fits; the --full-refresh read does not
    run_pipedrive(sb, target, tables=["person_fields", "persons"], full_refresh=["persons"])
    assert loaded_keys(target, "persons") == expected_keys(sb, "persons")


def test_row_deleted_during_an_offset_scan_does_not_hide_another(target):
    from conftest import PD_TOKEN
    from sandbox.pipedrive import PipedriveSandbox

    with PipedriveSandbox(seed=4, deals=1200, token=PD_TOKEN, burst=10_000) as sb:
        serve, deleted = sb.server.app, []

        def delete_a_served_note_after_the_first_page(request):
            response = serve(request)
            if request.path == "/v1/notes" and not deleted:
                deleted.append(sb.expected("notes")[0]["id"])
                sb.delete("notes", deleted[0])          # every later row moves up one position
            return response

        sb.server.app = delete_a_served_note_after_the_first_page
        run_pipedrive(sb, target, tables=["notes"])
        assert deleted and expected_keys(sb, "notes") <= loaded_keys(target, "notes")


def test_full_refresh_of_a_per_deal_table_rereads_every_deal(pipedrive_sb, target, loaded):
    sb = pipedrive_sb
    sb.server.clear_requests()
    run_pipedrive(sb, target, tables=["deal_products"], full_refresh=["deal_products"])
    batches = sb.server.requests_to(r"^/api/v2/deals/products$")
    asked = {int(i) for r in batches for i in r.query["deal_ids"].split(",")}
    assert asked == {d["id"] for d in sb.expected("deals")}
    assert all(len(r.query["deal_ids"].split(",")) <= 100 for r in batches)
    assert loaded_keys(target, "deal_products") == expected_keys(sb, "deal_products")
