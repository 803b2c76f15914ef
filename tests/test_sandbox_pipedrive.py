"""Contract tests of the Pipedrive emulator (sandbox/pipedrive)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import requests

from sandbox.pipedrive import PipedriveSandbox

TOKEN = "sandbox-token"
H = {"x-api-token": TOKEN}


@pytest.fixture
def sb():
    with PipedriveSandbox(seed=1, deals=300, burst=10_000) as box:
        yield box


def get(sb, path, **params):
    return requests.get(sb.base_url + path, params=params, headers=H, timeout=5)


def v2_all(sb, path, **params):
    rows, cursor, pages = [], None, 0
    while True:
        body = get(sb, path, **params, **({"cursor": cursor} if cursor else {})).json()
        assert body["success"] is True
        rows += body["data"]
        pages += 1
        cursor = body["additional_data"]["next_cursor"]
        if cursor is None:
            return rows, pages


def v1_all(sb, path, limit=100, **params):
    rows, start = [], 0
    while True:
        body = get(sb, path, start=start, limit=limit, **params).json()
        rows += body["data"] or []
        pagination = body["additional_data"]["pagination"]
        if not pagination["more_items_in_collection"]:
            return rows
        start = pagination["next_start"]


def test_auth_401(sb):
    r = requests.get(sb.base_url + "/api/v2/deals", timeout=5)
    assert r.status_code == 401
    body = r.json()
    assert body["success"] is False and body["errorCode"] == 401 and body["error"] == "unauthorized access"
    assert requests.get(sb.base_url + "/api/v2/deals", headers={"x-api-token": "nope"}, timeout=5).status_code == 401
    assert requests.get(sb.base_url + "/api/v2/deals", params={"api_token": TOKEN}, timeout=5).status_code == 200
    assert sb.tokens_spent == 10


def test_unknown_path_404_and_v1_alias(sb):
    r = get(sb, "/api/v2/nothing")
    assert r.status_code == 404 and r.json()["success"] is False
    assert get(sb, "/api/v1/users").json()["data"] == get(sb, "/v1/users").json()["data"]


def test_cursor_paging_visits_every_deal_once():
    with PipedriveSandbox(seed=3, deals=1200, burst=10_000) as sb:
        rows, pages = v2_all(sb, "/api/v2/deals", limit=500)
        ids = [r["id"] for r in rows]
        assert len(ids) == len(set(ids))
        want = {d["id"] for d in sb.expected("deals") if not d["is_deleted"] and not d["is_archived"]}
        assert set(ids) == want and pages == 3
        assert ids == sorted(ids)
        desc, _ = v2_all(sb, "/api/v2/deals", limit=500, sort_by="update_time", sort_direction="desc")
        assert [r["id"] for r in desc] != ids and {r["id"] for r in desc} == want
        keys = [(r["update_time"], r["id"]) for r in desc]
        assert keys == sorted(keys, reverse=True)


def test_updated_since_inclusive_and_sorted(sb):
    deals = [d for d in sb.expected("deals") if not d["is_deleted"] and not d["is_archived"]]
    pivot = sorted(deals, key=lambda d: d["update_time"])[len(deals) // 2]
    rows, _ = v2_all(sb, "/api/v2/deals", updated_since=pivot["update_time"], sort_by="update_time", limit=50)
    assert pivot["id"] in {r["id"] for r in rows}
    assert all(r["update_time"] >= pivot["update_time"] for r in rows)
    assert [r["update_time"] for r in rows] == sorted(r["update_time"] for r in rows)
    assert len(rows) == sum(d["update_time"] >= pivot["update_time"] for d in deals)
    before, _ = v2_all(sb, "/api/v2/deals", updated_until=pivot["update_time"], limit=500)
    assert pivot["id"] not in {r["id"] for r in before}
    assert len(before) + len(rows) == len(deals)
    assert get(sb, "/api/v2/deals", updated_since="yesterday").status_code == 400


def test_status_deleted_after_delete(sb):
    target = next(d for d in sb.expected("deals") if d["status"] == "open" and not d["is_archived"])
    sb.tick(60)
    sb.delete("deals", target["id"])
    deleted, _ = v2_all(sb, "/api/v2/deals", status="deleted", limit=500)
    hit = [d for d in deleted if d["id"] == target["id"]]
    assert hit and hit[0]["is_deleted"] is True and hit[0]["status"] == "deleted"
    assert hit[0]["update_time"] == sb.clock.strftime("%Y-%m-%dT%H:%M:%SZ")
    default, _ = v2_all(sb, "/api/v2/deals", limit=500)
    assert target["id"] not in {d["id"] for d in default}
    flow = get(sb, f"/v1/deals/{target['id']}/flow").json()["data"]
    assert flow[0]["object"] == "dealChange" and flow[0]["data"]["new_value"] == "deleted"


def test_archived_split(sb):
    live, _ = v2_all(sb, "/api/v2/deals", limit=500, status="open,won,lost,deleted")
    archived, _ = v2_all(sb, "/api/v2/deals/archived", limit=500, status="open,won,lost,deleted")
    assert archived and all(d["is_archived"] for d in archived)
    assert not any(d["is_archived"] for d in live)
    assert {d["id"] for d in live} | {d["id"] for d in archived} == {d["id"] for d in sb.expected("deals")}
    assert sb.tokens_by_path["/api/v2/deals/archived"] == 20


def test_limit_over_500_is_400(sb):
    r = get(sb, "/api/v2/deals", limit=501)
    assert r.status_code == 400 and r.json()["success"] is False and r.json()["error"]
    assert sb.tokens_spent == 0


def test_burst_429_then_403_ban():
    with PipedriveSandbox(seed=1, deals=20, burst=5, window=2.0) as sb:
        codes = []
        for _ in range(6):
            r = get(sb, "/api/v2/pipelines")
            codes.append(r.status_code)
            assert r.headers["x-ratelimit-limit"] == "5"
            assert int(r.headers["x-ratelimit-reset"]) >= 0
        assert codes == [200] * 5 + [429]
        assert r.headers["x-ratelimit-remaining"] == "0" and int(r.headers["Retry-After"]) >= 1
        assert r.json() == {"success": False, "error": "Request over limit", "errorCode": 429,
                            "error_info": r.json()["error_info"]}
        for _ in range(4):
            get(sb, "/api/v2/pipelines")
        r = get(sb, "/api/v2/pipelines")
        assert r.status_code == 403 and "text/html" in r.headers["Content-Type"] and "Cloudflare" in r.text
        assert sb.tokens_spent == 25


def test_daily_budget_429():
    with PipedriveSandbox(seed=1, deals=20, daily_budget=25) as sb:
        assert get(sb, "/api/v2/deals").status_code == 200
        assert get(sb, "/api/v2/deals").status_code == 200
        r = get(sb, "/api/v2/deals")
        assert r.status_code == 429
        assert r.json()["error"] == "Daily rate limit exceeded" and r.json()["errorCode"] == 429
        assert r.headers["x-daily-requests-left"] == "0" and int(r.headers["Retry-After"]) >= 1
        assert get(sb, "/api/v2/stages").status_code == 200   # 5 tokens still fit
        assert sb.tokens_spent == 25


def test_deal_products_batching(sb):
    assert get(sb, "/api/v2/deals/products", deal_ids=",".join(map(str, range(1, 102)))).status_code == 400
    assert get(sb, "/api/v2/deals/products").status_code == 400
    ids = set(range(1, 101))
    rows, _ = v2_all(sb, "/api/v2/deals/products", deal_ids=",".join(map(str, sorted(ids))), limit=50)
    assert rows and all(r["deal_id"] in ids for r in rows)
    assert rows == [r for r in sb.expected("deal_products") if r["deal_id"] in ids]


def test_v1_paging_notes(sb):
    rows = v1_all(sb, "/v1/notes", limit=37)
    assert [r["id"] for r in rows] == [n["id"] for n in sb.expected("notes")]
    desc = v1_all(sb, "/v1/notes", limit=100, sort="update_time DESC")
    assert [r["update_time"] for r in desc] == sorted((r["update_time"] for r in rows), reverse=True)
    body = get(sb, "/v1/notes", start=10_000).json()
    assert body["data"] is None and body["additional_data"]["pagination"]["more_items_in_collection"] is False
    files = get(sb, "/v1/files", limit=500).json()
    assert files["additional_data"]["pagination"]["limit"] == 100


def test_mutate_update_time_and_same_second(sb):
    before = {d["id"]: d for d in sb.expected("deals")}
    sb.tick(3600)
    stamp = sb.clock.strftime("%Y-%m-%dT%H:%M:%SZ")
    done = sb.mutate(seed=7, updates=30, inserts=5, deletes=3, same_second=6)
    after = {d["id"]: d for d in sb.expected("deals")}
    changed = [i for i, d in after.items() if before.get(i) != d]
    assert changed and all(after[i]["update_time"] == stamp for i in changed)
    same = sorted(i for t, i in done["updated"][-6:])
    assert len(same) == 6 and all(after[i]["update_time"] == stamp for i in same)
    live = sorted(i for i, d in after.items() if not d["is_deleted"])
    pos = live.index(same[0])
    assert live[pos:pos + 6] == same       # adjacent in id order
    assert len(after) == len(before) + sum(t == "deals" for t, _ in done["inserted"])
    rows, _ = v2_all(sb, "/api/v2/deals", updated_since=stamp, status="open,won,lost,deleted", limit=500)
    arch, _ = v2_all(sb, "/api/v2/deals/archived", updated_since=stamp, status="open,won,lost,deleted", limit=500)
    assert {r["id"] for r in rows + arch} == {i for i, d in after.items() if d["update_time"] == stamp}


def test_expected_matches_api(sb):
    sb.tick(10)
    sb.mutate(seed=3)
    live, _ = v2_all(sb, "/api/v2/deals", limit=500, status="open,won,lost,deleted")
    arch, _ = v2_all(sb, "/api/v2/deals/archived", limit=500, status="open,won,lost,deleted")
    assert sorted(live + arch, key=lambda d: d["id"]) == sb.expected("deals")
    for table, path in [("persons", "/api/v2/persons"), ("organizations", "/api/v2/organizations"),
                        ("activities", "/api/v2/activities"), ("products", "/api/v2/products"),
                        ("stages", "/api/v2/stages")]:
        assert v2_all(sb, path, limit=500)[0] == sb.expected(table), table
    assert v1_all(sb, "/v1/leads", archived_status="all") == sb.expected("leads")
    assert v1_all(sb, "/v1/files") == sb.expected("files")
    assert v1_all(sb, "/v1/dealFields") == sb.expected("deal_fields")
    assert get(sb, "/v1/deals/5/participants").json()["data"] == \
        [p for p in sb.expected("participants") if p["related_item_id"] == 5]
    flow = v1_all(sb, "/v1/deals/5/flow", all_changes="1")
    assert flow == [f for f in sb.expected("flow") if _flow_deal(f) == 5]
    assert sb.tokens_by_path["/v1/deals/{id}/flow"] == 40 * len(sb.server.requests_to(r"/flow$"))


def _flow_deal(item):
    return item["data"]["item_id"] if item["object"] == "dealChange" else item["data"]["deal_id"]


def test_custom_fields_and_field_edits(sb):
    keys = sb.custom_field_keys("deal")
    enum_key, set_key, money_key = keys["Customer type"], keys["Industries"], keys["Contract value"]
    deal = get(sb, "/api/v2/deals", limit=1).json()["data"][0]
    assert set(keys.values()) <= set(deal["custom_fields"]) and all(len(k) == 40 for k in keys.values())
    sb.tick(5)
    sb.update("deals", deal["id"], **{enum_key: 101, set_key: [103, 104],
                                      money_key: {"value": 12.5, "currency": "EUR"}})
    row = get(sb, "/api/v2/deals", ids=str(deal["id"])).json()["data"][0]
    assert row["custom_fields"][enum_key] == 101 and row["custom_fields"][set_key] == [103, 104]
    assert row["custom_fields"][money_key] == {"value": 12.5, "currency": "EUR"}
    plain = get(sb, f"/v1/deals/{deal['id']}/flow").json()["data"]
    assert not any(i["object"] == "dealChange" and i["data"]["field_key"] == enum_key for i in plain)
    top = get(sb, f"/v1/deals/{deal['id']}/flow", all_changes="1").json()["data"][:3]
    assert {i["data"]["field_key"] for i in top} == {enum_key, set_key, money_key}
    assert {i["timestamp"] for i in top} == {sb.clock.strftime("%Y-%m-%d %H:%M:%S")}
    sb.rename_field("deal", enum_key, "Client kind")
    oid = sb.add_option("deal", enum_key, "NGO")
    field = next(f for f in v1_all(sb, "/v1/dealFields") if f["key"] == enum_key)
    assert field["name"] == "Client kind" and {"id": oid, "label": "NGO"} in field["options"]
    assert field["edit_flag"] is True and field["update_time"] == sb.clock.strftime("%Y-%m-%d %H:%M:%S")


def test_determinism():
    a, b = PipedriveSandbox(seed=5, deals=150), PipedriveSandbox(seed=5, deals=150)
    c = PipedriveSandbox(seed=6, deals=150)
    for table in ("deals", "persons", "leads", "flow", "deal_products", "participants", "notes"):
        assert a.expected(table) == b.expected(table), table
    assert a.expected("deals") != c.expected("deals")
    for box in (a, b):
        box.tick(100)
        box.mutate(seed=9, updates=25, inserts=5, deletes=2, same_second=3)
        box.insert("persons", name="Zed Zero")
    assert a.expected("deals") == b.expected("deals") and a.expected("persons") == b.expected("persons")
    assert a.clock == b.clock == datetime(2024, 12, 31, 0, 1, 40, tzinfo=timezone.utc)

