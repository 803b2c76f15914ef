"""HotProfile clients end to end: sandbox API → real pipeline → DuckDB."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from conftest import HP_KEY, no_sleep_hotprofile_client, query, run_hotprofile
from sources._errors import ApiError

JST_OFFSET = timedelta(hours=9)
CALL = "/rest_api/v1/clients/get_entry_list_flow"


def jst_to_utc(text: str) -> datetime:
    """Independent of the source's parser: fixed +09:00 (Japan has no DST)."""
    return datetime.strptime(text, "%Y/%m/%d %H:%M:%S").replace(tzinfo=timezone.utc) - JST_OFFSET


def warehouse_clients(target) -> dict[int, tuple]:
    rows = query(target, "SELECT id, updated_at, name, corporate_number FROM hotprofile.clients")
    return {r[0]: (r[1].astimezone(timezone.utc), r[2], r[3]) for r in rows}


def sandbox_clients(sb) -> dict[int, tuple]:
    return {c["id"]: (jst_to_utc(c["updated_at"]), c["name"],
                      c.get("corporate_number"))
            for c in sb.expected("clients")}


def test_first_load_is_an_exact_copy_with_utc_timestamps(hotprofile_sb, target):
    run_hotprofile(hotprofile_sb, target, tables=["clients"])
    assert warehouse_clients(target) == sandbox_clients(hotprofile_sb)
    calls = hotprofile_sb.server.requests_to(CALL)
    assert len(calls) == 3                                    # 2500 clients, 1000 a page, keyset paging
    for call in calls:
        assert call.method == "POST" and call.body == b""
        assert call.query["api_key"] == HP_KEY
        assert call.query["page[display_number]"] == "1000"
        assert call.query["order[key]"] == "id" and call.query["order[type]"] == "asc"
    assert "search[from_id]" not in calls[0].query
    assert int(calls[1].query["search[from_id]"]) == sorted(hotprofile_sb_ids(hotprofile_sb))[1000]
    types = dict(query(target, "SELECT column_name, data_type FROM information_schema.columns "
                               "WHERE table_schema = 'hotprofile' AND table_name = 'clients'"))
    assert types["updated_at"] == types["created_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["corporate_number"] == types["zip"] == types["main_tel"] == "VARCHAR"


def hotprofile_sb_ids(sb) -> list[int]:
    return [c["id"] for c in sb.expected("clients")]


def test_custom_items_are_queryable_as_text(hotprofile_sb, target):
    run_hotprofile(hotprofile_sb, target, tables=["clients"])
    with_items = [c for c in hotprofile_sb.expected("clients") if c.get("items")]
    assert with_items
    sample = with_items[0]
    rows = query(target, "SELECT i.label, i.value FROM hotprofile.clients c JOIN hotprofile.clients__items i "
                         f"ON i._dlt_parent_id = c._dlt_id WHERE c.id = {sample['id']} ORDER BY i._dlt_list_idx")
    assert rows == [(item["label"], None if item["value"] is None else str(item["value"])) for item in sample["items"]]


def test_incremental_run_asks_in_japan_time_minus_lag_and_converges(hotprofile_sb, target):
    sb = hotprofile_sb
    run_hotprofile(sb, target, tables=["clients"])
    newest = max(jst_to_utc(c["updated_at"]) for c in sb.expected("clients"))
    sb.tick(120)
    sb.mutate(seed=4, updates=30, inserts=10, deletes=0, merges=0, same_second=5)
    sb.server.clear_requests()
    result = run_hotprofile(sb, target, tables=["clients"])
    since = sb.server.requests_to(CALL)[0].query["search[from_datetime_updated_on]"]
    assert since == (newest - timedelta(minutes=10) + JST_OFFSET).strftime("%Y/%m/%d %H:%M:%S")
    assert warehouse_clients(target) == sandbox_clients(sb)
    assert 40 <= result.tables[0].rows < 200


def test_a_500_on_the_first_page_is_retried_like_any_other(hotprofile_sb, target):
    hotprofile_sb.server.faults.add("500", path=CALL, times=1)
    run_hotprofile(hotprofile_sb, target, tables=["clients"], client=no_sleep_hotprofile_client(hotprofile_sb))
    calls = hotprofile_sb.server.requests_to(CALL)
    assert calls[0].query == calls[1].query                  # the same first page, asked again
    assert warehouse_clients(target) == sandbox_clients(hotprofile_sb)


def test_html_page_with_200_is_an_error_not_an_empty_table(hotprofile_sb, target):
    hotprofile_sb.server.faults.add("html", path=CALL, times=10)
    with pytest.raises(ApiError, match="not JSON"):
        run_hotprofile(hotprofile_sb, target, tables=["clients"], client=no_sleep_hotprofile_client(hotprofile_sb))
    assert query(target, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'clients'") == [(0,)]


def test_5xx_after_the_first_page_is_retried(hotprofile_sb, target):
    sb = hotprofile_sb
    served = []

    def inject_once(table, page):
        if not served:
            sb.server.faults.add("503", path=CALL, times=1)   # hits the request after this one
        served.append(page)

    sb.on_page(inject_once)
    run_hotprofile(sb, target, tables=["clients"], client=no_sleep_hotprofile_client(sb))
    assert len(sb.server.requests_to(CALL)) == 4                # 3 pages + 1 retry
    assert warehouse_clients(target) == sandbox_clients(sb)
