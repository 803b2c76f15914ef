"""Contract tests of the Pipedrive emulator (sandbox/pipedrive)."""
from __future__ import annotations

from collections import Counter
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
    enum_value = 102 if deal["custom_fields"][enum_key] == 101 else 101     # a real change
    sb.update("deals", deal["id"], **{enum_key: enum_value, set_key: [103, 104],
                                      money_key: {"value": 12.5, "currency": "EUR"}})
    row = get(sb, "/api/v2/deals", ids=str(deal["id"])).json()["data"][0]
    assert row["custom_fields"][enum_key] == enum_value and row["custom_fields"][set_key] == [103, 104]
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



# ---------------------------------------------------------------------- deletes, purge, numbers, include_fields
DAY = 86400
STAMP = "%Y-%m-%dT%H:%M:%SZ"
V2_SOFT = [("persons", "/api/v2/persons"), ("organizations", "/api/v2/organizations"),
           ("activities", "/api/v2/activities"), ("products", "/api/v2/products")]


def ids_of(rows):
    return {r["id"] for r in rows}


def all_deals(sb, **params):
    live, _ = v2_all(sb, "/api/v2/deals", limit=500, status="open,won,lost,deleted", **params)
    arch, _ = v2_all(sb, "/api/v2/deals/archived", limit=500, status="open,won,lost,deleted", **params)
    return sorted(live + arch, key=lambda d: d["id"])


def test_soft_delete_hides_persons_orgs_activities_products(sb):
    sb.tick(60)
    stamp = sb.clock.strftime(STAMP)
    for table, path in V2_SOFT:
        before, _ = v2_all(sb, path, limit=500)
        victim = before[len(before) // 2]
        sb.delete(table, victim["id"])
        sb.delete(table, victim["id"])                      # twice: a no-op
        after, _ = v2_all(sb, path, limit=500)
        assert ids_of(after) == ids_of(before) - {victim["id"]}, table
        assert sb.deleted_ids(table) == {victim["id"]}, table
        assert victim["id"] not in ids_of(sb.live(table))
        stored = sb.data.table(table)[victim["id"]]         # kept, flagged, stamped
        assert stored["is_deleted"] is True and stored["update_time"] == stamp
        assert set(stored) == set(victim), table            # no private key (deletion moment) in the row
    changed, _ = v2_all(sb, "/api/v2/persons", updated_since=stamp)
    assert changed == []                                    # a deleted person is not even a change


def test_list_deleted_lists_flagged_rows_and_respects_updated_since():
    with PipedriveSandbox(seed=2, deals=100, burst=10_000, list_deleted=True) as sb:
        assert sb.list_deleted is True
        sb.tick(60)
        stamp = sb.clock.strftime(STAMP)
        for table, path in V2_SOFT:
            before, _ = v2_all(sb, path, limit=500)
            victim = before[0]["id"]
            sb.delete(table, victim)
            after, _ = v2_all(sb, path, limit=500)
            assert ids_of(after) == ids_of(before), table
            row = next(r for r in after if r["id"] == victim)
            assert row["is_deleted"] is True, table
            if table != "products":                         # /api/v2/products has no updated_since
                changed, _ = v2_all(sb, path, updated_since=stamp)
                assert [(r["id"], r["is_deleted"], r["update_time"]) for r in changed] == [(victim, True, stamp)]
            assert v2_all(sb, path, limit=500)[0] == sb.live(table), table
        sb.list_deleted = False
        assert not any(p["is_deleted"] for p in v2_all(sb, "/api/v2/persons", limit=500)[0])


def test_hard_delete_notes_and_leads_soft_delete_files(sb):
    sb.tick(30)
    note = sb.expected("notes")[3]["id"]
    lead = sb.expected("leads")[2]["id"]
    file = sb.expected("files")[1]
    sb.delete("notes", note)
    sb.delete("leads", lead)
    sb.delete("files", file["id"])
    assert note not in ids_of(v1_all(sb, "/v1/notes")) and note not in sb.data.notes
    assert lead not in ids_of(v1_all(sb, "/v1/leads", archived_status="all")) and lead not in sb.data.leads
    files = v1_all(sb, "/v1/files")
    assert file["id"] not in ids_of(files) and files == sb.live("files")
    stored = sb.data.files[file["id"]]
    assert stored["active_flag"] is False and stored["update_time"] == sb.clock.strftime("%Y-%m-%d %H:%M:%S")
    assert set(stored) == set(file)
    assert (sb.deleted_ids("notes"), sb.deleted_ids("leads"), sb.deleted_ids("files")) == ({note}, {lead}, {file["id"]})
    with pytest.raises(KeyError):
        sb.delete("notes", note)


def test_deleted_deal_is_purged_after_30_days_with_its_children(sb):
    deal = next(d for d in sb.expected("deals") if d["status"] == "won" and not d["is_archived"]
                and any(p["deal_id"] == d["id"] for p in sb.expected("deal_products")))
    did = deal["id"]
    products = {p["id"] for p in sb.expected("deal_products") if p["deal_id"] == did}
    parts = {p["id"] for p in sb.expected("participants") if p["related_item_id"] == did}
    initially_deleted = {d["id"] for d in sb.expected("deals") if d["is_deleted"]}
    assert initially_deleted                                    # deleted within the last 30 days: listed
    sb.tick(60)
    sb.delete("deals", did)
    row = next(d for d in all_deals(sb) if d["id"] == did)
    assert row["status"] == "deleted" and row["is_deleted"] is True and set(row) == set(deal)
    sb.tick(29 * DAY)
    assert did in ids_of(all_deals(sb)) and get(sb, f"/v1/deals/{did}/flow").status_code == 200
    assert get(sb, f"/v1/deals/{did}/participants").json()["data"]
    assert initially_deleted.isdisjoint(ids_of(all_deals(sb)))  # they were deleted earlier: purged by now
    sb.tick(DAY)
    assert did not in ids_of(all_deals(sb)) and did not in ids_of(sb.live("deals"))
    for path in (f"/v1/deals/{did}/flow", f"/v1/deals/{did}/participants"):
        r = get(sb, path)
        assert r.status_code == 404 and r.json()["success"] is False, path
    assert get(sb, "/v1/deals/999999/flow").status_code == 404
    rows, _ = v2_all(sb, "/api/v2/deals/products", deal_ids=str(did))
    assert rows == []
    assert did in sb.deleted_ids("deals") and initially_deleted <= sb.deleted_ids("deals")
    assert products <= sb.deleted_ids("deal_products") and parts <= sb.deleted_ids("participants")
    assert not any(p["deal_id"] == did for p in sb.live("deal_products"))
    assert not any(_flow_deal(f) == did for f in sb.live("flow"))
    with pytest.raises(KeyError):
        sb.delete("deals", did)


def test_purge_happens_lazily_before_a_request(sb):
    sb.tick(10)
    did = next(d["id"] for d in sb.expected("deals") if not d["is_deleted"])
    sb.delete("deals", did)
    sb.data.clock_ts += 31 * DAY                                # clock moved without tick: purged on the next call
    assert get(sb, f"/v1/deals/{did}/flow").status_code == 404


def test_soft_deleted_rows_are_purged_after_30_days():
    with PipedriveSandbox(seed=4, deals=60, burst=10_000, list_deleted=True) as sb:
        sb.tick(10)
        for table, _ in V2_SOFT:
            sb.delete(table, 2)
        sb.delete("files", 1)
        sb.tick(30 * DAY - 11)
        for table, path in V2_SOFT:
            assert 2 in ids_of(v2_all(sb, path, limit=500)[0]), table
        sb.tick(11)
        for table, path in V2_SOFT:
            assert 2 not in ids_of(v2_all(sb, path, limit=500)[0]) and 2 not in sb.data.table(table), table
            assert sb.deleted_ids(table) == {2}
        assert 1 not in sb.data.files and sb.deleted_ids("files") == {1}


def test_mutate_deletes_every_kind_and_updates_only_live_rows():
    with PipedriveSandbox(seed=1, deals=300, burst=10_000) as sb:
        sb.tick(60)
        done = sb.mutate(seed=4, updates=0, inserts=0, deletes=120)
        kinds = {t for t, _ in done["deleted"]}
        assert kinds == {"deals", "persons", "organizations", "activities", "products", "notes", "files", "leads",
                         "deal_products", "participants"}
        counts = Counter(t for t, _ in done["deleted"])
        assert counts["deals"] == max(counts.values())          # deals stay the most common
        assert len(done["deleted"]) == len(set(done["deleted"])) == 120
        for table, rid in done["deleted"]:
            assert rid in sb.deleted_ids(table), (table, rid)
            if table == "deals":
                assert sb.data.deals[rid]["status"] == "deleted"
            else:
                assert rid not in ids_of(sb.live(table)), (table, rid)
        deleted = {(t, i) for t, i in done["deleted"]}
        sb.tick(60)
        stamp = sb.clock.strftime(STAMP)
        more = sb.mutate(seed=5, updates=300, inserts=0, deletes=0)
        assert not deleted & set(more["updated"])
        for table, _ in V2_SOFT:                                 # deleted rows kept their deletion stamp
            for rid in (i for t, i in deleted if t == table):
                assert sb.data.table(table)[rid]["update_time"] != stamp
        assert not any(d["update_time"] == stamp for i, d in sb.data.deals.items() if ("deals", i) in deleted)


def test_mutate_default_deletes_are_reported(sb):
    sb.tick(60)
    done = sb.mutate(seed=11, updates=40, inserts=10, deletes=6, same_second=5)
    assert len(done["deleted"]) == 6 and any(t == "deals" for t, _ in done["deleted"])
    for table in ("deals", "persons", "notes", "leads", "files", "deal_products", "participants"):
        assert {i for t, i in done["deleted"] if t == table} <= sb.deleted_ids(table)


def test_live_matches_every_list_endpoint_after_deletes():
    for list_deleted in (False, True):
        with PipedriveSandbox(seed=6, deals=200, burst=10_000, list_deleted=list_deleted) as sb:
            sb.tick(60)
            sb.mutate(seed=8, updates=30, inserts=10, deletes=60)
            sb.tick(10 * DAY)
            sb.mutate(seed=9, updates=30, inserts=10, deletes=60)
            sb.tick(25 * DAY)                                   # the first batch is purged, the second not
            assert all_deals(sb) == sb.live("deals")
            for table, path in V2_SOFT:
                assert v2_all(sb, path, limit=500)[0] == sb.live(table), (table, list_deleted)
            assert v1_all(sb, "/v1/notes") == sb.live("notes")
            assert v1_all(sb, "/v1/files") == sb.live("files")
            assert v1_all(sb, "/v1/leads", archived_status="all") == sb.live("leads")
            deal_ids = [d["id"] for d in sb.live("deals")]
            rows = []
            for i in range(0, len(deal_ids), 100):
                rows += v2_all(sb, "/api/v2/deals/products", deal_ids=",".join(map(str, deal_ids[i:i + 100])))[0]
            assert sorted(rows, key=lambda r: r["id"]) == sb.live("deal_products")
            did = next(d["id"] for d in sb.live("deals") if d["is_deleted"])
            assert get(sb, f"/v1/deals/{did}/participants").json()["data"] == \
                [p for p in sb.live("participants") if p["related_item_id"] == did]
            assert sb.expected("persons") == sb.live("persons")
            purged = sb.deleted_ids("deals") - set(deal_ids)
            assert purged and all(get(sb, f"/v1/deals/{i}/flow").status_code == 404 for i in sorted(purged)[:3])


# ---------------------------------------------------------------------- numbers
def test_deal_values_mix_json_integers_and_fractions(sb):
    raw = get(sb, "/api/v2/deals", limit=20).text
    first = get(sb, "/api/v2/deals", limit=20).json()["data"]
    assert first[0]["id"] == 1 and type(first[0]["value"]) is int and f'"value": {first[0]["value"]},' in raw
    deals = sb.expected("deals")
    kinds = {type(d["value"]) for d in deals}
    assert kinds == {int, float}
    assert all(d["value"] != int(d["value"]) for d in deals if isinstance(d["value"], float))   # 1234.56, never 5000.0
    oldest = get(sb, "/api/v2/deals", limit=1, sort_by="update_time").json()["data"][0]
    assert type(oldest["value"]) is int                       # first row of an update_time scan, too


def test_deal_products_and_products_mix_integers_and_fractions(sb):
    rows, _ = v2_all(sb, "/api/v2/deals/products", deal_ids=",".join(map(str, range(1, 101))), limit=500)
    first = min(sb.expected("deal_products"), key=lambda r: r["id"])
    for key in ("quantity", "item_price", "sum", "discount"):
        assert type(first[key]) is int, key
    everything = sb.expected("deal_products")
    assert any(isinstance(r["quantity"], float) for r in everything)
    assert any(isinstance(r["sum"], float) for r in everything) and any(isinstance(r["sum"], int) for r in everything)
    assert any(isinstance(r["discount"], float) for r in everything)
    assert any(isinstance(r["item_price"], float) for r in everything)
    for r in everything:
        assert not (isinstance(r["sum"], float) and r["sum"] == int(r["sum"]))
    products = v2_all(sb, "/api/v2/products", limit=500)[0]
    assert type(products[0]["prices"][0]["price"]) is int and type(products[0]["prices"][0]["cost"]) is int
    prices = [p["prices"][0] for p in products]
    assert {type(p["price"]) for p in prices} == {int, float} and {type(p["cost"]) for p in prices} == {int, float}


# ---------------------------------------------------------------------- include_fields
DEAL_OPTIONAL = {"next_activity_id", "last_activity_id", "first_won_time", "products_count", "files_count",
                 "notes_count", "followers_count", "email_messages_count", "activities_count", "done_activities_count",
                 "undone_activities_count", "participants_count", "last_incoming_mail_time",
                 "last_outgoing_mail_time", "smart_bcc_email"}
PERSON_OPTIONAL = {"next_activity_id", "last_activity_id", "open_deals_count", "related_open_deals_count",
                   "closed_deals_count", "related_closed_deals_count", "participant_open_deals_count",
                   "participant_closed_deals_count", "email_messages_count", "activities_count",
                   "done_activities_count", "undone_activities_count", "files_count", "notes_count",
                   "followers_count", "won_deals_count", "related_won_deals_count", "lost_deals_count",
                   "related_lost_deals_count", "last_incoming_mail_time", "last_outgoing_mail_time",
                   "marketing_status", "doi_status"}
ORG_OPTIONAL = {"next_activity_id", "last_activity_id", "open_deals_count", "related_open_deals_count",
                "closed_deals_count", "related_closed_deals_count", "email_messages_count", "people_count",
                "activities_count", "done_activities_count", "undone_activities_count", "files_count", "notes_count",
                "followers_count", "won_deals_count", "related_won_deals_count", "lost_deals_count",
                "related_lost_deals_count", "website", "linkedin", "industry", "annual_revenue", "employee_count"}
RFC3339 = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"


def test_include_fields_enums_match_the_spec():
    from conftest import openapi
    from sandbox.pipedrive.optional import INCLUDE_FIELDS, ORGANIZATION_FIELDS_2026

    spec = openapi("pipedrive/openapi-v2.yaml")
    for table, path in [("deals", "/deals"), ("deals", "/deals/archived"), ("persons", "/persons"),
                        ("organizations", "/organizations"), ("activities", "/activities")]:
        param = next(p for p in spec["paths"][path]["get"]["parameters"] if p.get("name") == "include_fields")
        later = ORGANIZATION_FIELDS_2026 if table == "organizations" else ()
        assert list(INCLUDE_FIELDS[table]) == param["schema"]["enum"] + list(later), path
    assert DEAL_OPTIONAL == set(INCLUDE_FIELDS["deals"]) and PERSON_OPTIONAL == set(INCLUDE_FIELDS["persons"])
    assert ORG_OPTIONAL == set(INCLUDE_FIELDS["organizations"])


def test_optional_fields_only_on_request(sb):
    for path, optional in [("/api/v2/deals", DEAL_OPTIONAL), ("/api/v2/deals/archived", DEAL_OPTIONAL),
                           ("/api/v2/persons", PERSON_OPTIONAL), ("/api/v2/organizations", ORG_OPTIONAL),
                           ("/api/v2/activities", {"attendees"})]:
        plain = get(sb, path, limit=50).json()["data"]
        assert plain and all(not (optional & set(r)) for r in plain), path
        rich = get(sb, path, limit=50, include_fields=",".join(sorted(optional))).json()["data"]
        assert [r["id"] for r in rich] == [r["id"] for r in plain]
        assert all(set(r) == set(p) | optional for r, p in zip(rich, plain)), path
        one = sorted(optional)[0]
        assert all(set(r) == set(p) | {one} for r, p in zip(get(sb, path, limit=50, include_fields=one).json()["data"],
                                                          plain)), path
        bad = get(sb, path, include_fields=f"{one},nonsense")
        assert bad.status_code == 400 and bad.json()["success"] is False and bad.json()["error"], path
    assert get(sb, "/api/v2/persons", include_fields="smart_bcc_email").status_code == 400   # a deal-only name
    assert sb.tokens_by_path["/api/v2/persons"] == 30                                        # 400s cost nothing
    assert not any(DEAL_OPTIONAL & set(d) for d in sb.expected("deals"))                     # never stored
    assert not any("attendees" in a for a in sb.expected("activities"))


def test_deal_optional_values_are_consistent(sb):
    import re

    rows = all_deals(sb, include_fields=",".join(sorted(DEAL_OPTIONAL)))
    assert len(rows) == len(sb.expected("deals"))
    products = Counter(p["deal_id"] for p in sb.expected("deal_products"))
    parts = Counter(p["related_item_id"] for p in sb.expected("participants"))
    acts = [a for a in sb.expected("activities") if a["deal_id"]]
    notes = Counter(n["deal_id"] for n in sb.expected("notes") if n["deal_id"])
    files = Counter(f["deal_id"] for f in sb.expected("files") if f["deal_id"])
    for d in rows:
        mine = [a for a in acts if a["deal_id"] == d["id"]]
        assert d["products_count"] == products[d["id"]] and d["participants_count"] == parts[d["id"]]
        assert d["activities_count"] == len(mine) == d["done_activities_count"] + d["undone_activities_count"]
        assert d["done_activities_count"] == sum(a["done"] for a in mine)
        assert d["notes_count"] == notes[d["id"]] and d["files_count"] == files[d["id"]]
        assert (d["next_activity_id"] is None) == all(a["done"] for a in mine)
        assert d["next_activity_id"] is None or d["next_activity_id"] in {a["id"] for a in mine if not a["done"]}
        assert d["last_activity_id"] is None or d["last_activity_id"] in {a["id"] for a in mine if a["done"]}
        for key in ("followers_count", "email_messages_count"):
            assert type(d[key]) is int and d[key] >= 0
        assert isinstance(d["smart_bcc_email"], str) and "@" in d["smart_bcc_email"]
        for key in ("first_won_time", "last_incoming_mail_time", "last_outgoing_mail_time"):
            assert d[key] is None or re.match(RFC3339, d[key]), key
        if d["status"] == "won":
            assert d["first_won_time"] and d["first_won_time"] <= d["won_time"]
    assert any(d["products_count"] for d in rows) and any(d["last_incoming_mail_time"] for d in rows)
    assert any(d["next_activity_id"] for d in rows)
    sb.tick(60)
    did = next(d["id"] for d in rows if d["products_count"] and not d["is_deleted"])
    sb.delete("deal_products", next(p["id"] for p in sb.expected("deal_products") if p["deal_id"] == did))
    again = get(sb, "/api/v2/deals", ids=str(did), include_fields="products_count").json()["data"][0]
    assert again["products_count"] == products[did] - 1


def test_person_org_activity_optional_values(sb):
    persons = v2_all(sb, "/api/v2/persons", limit=500, include_fields=",".join(sorted(PERSON_OPTIONAL)))[0]
    deals = [d for d in sb.expected("deals") if not d["is_deleted"]]
    for p in persons:
        own = [d for d in deals if d["person_id"] == p["id"]]
        assert p["open_deals_count"] == sum(d["status"] == "open" for d in own)
        assert p["won_deals_count"] == sum(d["status"] == "won" for d in own)
        assert p["closed_deals_count"] == p["won_deals_count"] + p["lost_deals_count"]
        assert all(type(p[k]) is int for k in PERSON_OPTIONAL if k.endswith("_count"))
        assert p["marketing_status"] in ("no_consent", "unsubscribed", "subscribed", "archived")
    orgs = v2_all(sb, "/api/v2/organizations", limit=500, include_fields="people_count,open_deals_count")[0]
    people = Counter(p["org_id"] for p in sb.expected("persons") if p["org_id"])
    assert [o["people_count"] for o in orgs] == [people[o["id"]] for o in orgs]
    assert any(o["open_deals_count"] for o in orgs)
    acts = v2_all(sb, "/api/v2/activities", limit=500, include_fields="attendees")[0]
    assert all(isinstance(a["attendees"], list) for a in acts)
    attendees = [x for a in acts for x in a["attendees"]]
    assert attendees and all(set(x) == {"email", "name", "status", "is_organizer", "person_id", "user_id"}
                             for x in attendees)
    assert any(x["is_organizer"] for x in attendees) and any(x["person_id"] for x in attendees)
