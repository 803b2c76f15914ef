"""Tests of the HotProfile emulator (sandbox/hotprofile)."""
from __future__ import annotations

import json
import time
from datetime import datetime

import pytest
import requests

from sandbox.hotprofile import FIELDS, JST, HotProfileSandbox

CLIENTS = "/rest_api/v1/clients/get_entry_list_flow"
LEADS = "/rest_api/v1/leads/get_entry_list_flow"
CARDS = "/rest_api/v1/business_cards/get_entry_list"


@pytest.fixture
def sb():
    with HotProfileSandbox(seed=1, clients=300, leads=600, business_cards=300, rate=None) as box:
        yield box


def call(sb, path, key="sandbox-key", **params):
    query = {"api_key": key} if key is not None else {}
    query.update({_bracket(k): v for k, v in params.items()})
    return requests.post(sb.url_instance + path, params=query, timeout=10)


def _bracket(name: str) -> str:
    # page__number -> page[number]
    if "__" in name:
        head, tail = name.split("__", 1)
        return f"{head}[{tail}]"
    return name


def fetch_all(sb, path, table, **params):
    rows, page = [], 1
    while True:
        body = call(sb, path, page__number=page, **params).json()
        rows += body[table]
        if page >= body["pages"]["total_number"]:
            return rows, body["pages"]
        page += 1


def test_auth(sb):
    for key in (None, "wrong"):
        r = call(sb, CLIENTS, key=key)
        assert r.status_code == 401
        assert r.json() == {"errors": [{"message": "Unauthorized"}]}
    assert call(sb, CLIENTS).status_code == 200


def test_fields_match_spec_and_pages(sb):
    for path, table in ((CLIENTS, "clients"), (LEADS, "leads"), (CARDS, "business_cards")):
        body = call(sb, path, page__display_number=7, page__number=2).json()
        assert set(body) == {table, "pages"}
        assert len(body[table]) == 7
        assert all(list(row) == list(FIELDS[table]) for row in body[table])
        n = len(sb.expected(table))
        assert body["pages"] == {"current_number": 2, "display_number": 7, "total_count": n,
                                 "total_number": -(-n // 7)}
    client = sb.expected("clients")[0]
    assert isinstance(client["corporate_number"], str)
    assert any(c["corporate_number"].startswith("0") for c in sb.expected("clients"))
    assert all(len(c["corporate_number"]) in (0, 13) for c in sb.expected("clients"))
    lead = sb.expected("leads")[0]
    client_ids = {c["id"] for c in sb.expected("clients")}
    assert all(l["client_id"] in client_ids for l in sb.expected("leads"))
    assert lead["not_mail_flg"] in ("ー", "✓")
    assert datetime.strptime(lead["updated_at"], "%Y/%m/%d %H:%M:%S")


def test_aliases_and_unknown_route(sb):
    assert call(sb, "/rest_api/v1/clients/get_entry_list").status_code == 200
    assert call(sb, "/rest_api/v1/leads/get_entry_list").status_code == 200
    assert call(sb, "/rest_api/v1/nope/get_entry_list").status_code == 404
    assert requests.get(sb.url_instance + CLIENTS, params={"api_key": "sandbox-key"}).status_code == 404


@pytest.mark.parametrize("path,params", [
    (LEADS, {"page__display_number": 101}),
    (LEADS, {"page__display_number": 0}),
    (CLIENTS, {"page__display_number": 1001}),
    (CARDS, {"page__display_number": 1001}),
    (CLIENTS, {"page__number": 0}),
    (CLIENTS, {"page__number": "x"}),
    (CLIENTS, {"order__key": "nope"}),
    (CLIENTS, {"order__type": "up"}),
    (CLIENTS, {"search__from_datetime_updated_on": "2022-01-01 00:00:00"}),
    (LEADS, {"search__from_datetime_updated_on": "2022/01/01"}),
    (CARDS, {"search__from_updated_on": "2022/13/01"}),
])
def test_bad_parameters_are_500(sb, path, params):
    r = call(sb, path, **params)
    assert r.status_code == 500
    assert "text/html" in r.headers["Content-Type"]


def test_page_caps_ok(sb):
    assert len(call(sb, LEADS, page__display_number=100).json()["leads"]) == 100
    assert len(call(sb, CLIENTS, page__display_number=1000).json()["clients"]) == 300
    r = call(sb, CLIENTS, page__display_number=100, page__number=99).json()
    assert r["clients"] == [] and r["pages"]["total_number"] == 3


def test_keyset_paging_visits_all_ids_once(sb):
    seen, from_id = [], 0
    while True:
        body = call(sb, LEADS, page__display_number=100, order__key="id", order__type="asc",
                    search__from_id=from_id).json()
        rows = body["leads"]
        if not rows:
            break
        seen += [r["id"] for r in rows]
        from_id = rows[-1]["id"] + 1
    assert seen == [r["id"] for r in sb.expected("leads")]
    # from_id/to_id are inclusive
    ids = seen[10:20]
    body = call(sb, LEADS, search__from_id=ids[0], search__to_id=ids[-1], page__display_number=100).json()
    assert [r["id"] for r in body["leads"]] == ids


def test_business_cards_ignore_from_id(sb):
    n = len(sb.expected("business_cards"))
    last = sb.expected("business_cards")[-1]["id"]
    body = call(sb, CARDS, search__from_id=last).json()
    assert body["pages"]["total_count"] == n


def test_order(sb):
    asc = call(sb, CLIENTS, page__display_number=1000, order__key="id", order__type="asc").json()["clients"]
    assert [r["id"] for r in asc] == sorted(r["id"] for r in asc)
    desc = call(sb, CLIENTS, page__display_number=10, order__type="desc").json()["clients"]
    assert [r["id"] for r in desc] == [r["id"] for r in asc][::-1][:10]
    by_upd = fetch_all(sb, LEADS, "leads", page__display_number=100, order__key="updated_at")[0]
    assert [(r["updated_at"], r["id"]) for r in by_upd] == sorted((r["updated_at"], r["id"]) for r in by_upd)


def test_datetime_filter_inclusive_jst(sb):
    rows = sb.expected("leads")
    stamps = sorted(r["updated_at"] for r in rows)
    # pick a second shared by several rows: the boundary must include all of them
    dup = next(s for s, t in zip(stamps, stamps[1:]) if s == t)
    got, pages = fetch_all(sb, LEADS, "leads", page__display_number=100, search__from_datetime_updated_on=dup)
    assert sorted(r["id"] for r in got) == sorted(r["id"] for r in rows if r["updated_at"] >= dup)
    assert sum(r["updated_at"] == dup for r in got) >= 2
    got, _ = fetch_all(sb, LEADS, "leads", page__display_number=100, search__to_datetime_updated_on=dup)
    assert sorted(r["id"] for r in got) == sorted(r["id"] for r in rows if r["updated_at"] <= dup)
    # JST: an update at 2023/01/02 00:00:30 JST (= 2023-01-01 15:00:30 UTC)
    sb.tick(days=1, seconds=30)
    assert sb.clock == datetime(2023, 1, 2, 0, 0, 30, tzinfo=JST)
    rid = rows[0]["id"]
    sb.update("leads", rid, note="JST")
    body = call(sb, LEADS, search__from_datetime_updated_on="2023/01/02 00:00:30").json()
    assert [r["id"] for r in body["leads"]] == [rid]
    assert body["leads"][0]["updated_at"] == "2023/01/02 00:00:30"
    assert call(sb, LEADS, search__from_datetime_updated_on="2023/01/02 00:00:31").json()["leads"] == []


def test_business_card_date_filter_is_jst_date(sb):
    sb.tick(hours=24)                    # 2023/01/02 00:00:00 JST = 2023-01-01T15:00Z
    rid = sb.expected("business_cards")[3]["id"]
    sb.update("business_cards", rid, note="x")
    body = call(sb, CARDS, search__from_updated_on="2023/01/02").json()
    assert [r["id"] for r in body["business_cards"]] == [rid]
    assert call(sb, CARDS, search__from_updated_on="2023/01/03").json()["business_cards"] == []
    # to_updated_on is inclusive of the whole JST day
    body = call(sb, CARDS, search__to_updated_on="2023/01/01", page__display_number=1000).json()
    assert rid not in [r["id"] for r in body["business_cards"]]
    assert body["pages"]["total_count"] == len(sb.expected("business_cards")) - 1
    # datetime filter does not exist for business cards: ignored
    body = call(sb, CARDS, search__from_datetime_updated_on="2023/01/02 00:00:00").json()
    assert body["pages"]["total_count"] == len(sb.expected("business_cards"))


def test_mutate_updates_and_deletes(sb):
    before = {t: {r["id"]: r for r in sb.expected(t)} for t in ("clients", "leads", "business_cards")}
    old_max = max(r["updated_at"] for r in before["leads"].values())
    sb.tick(hours=1)
    now = sb.clock.strftime("%Y/%m/%d %H:%M:%S")
    res = sb.mutate(seed=2, updates=20, inserts=5, deletes=3, merges=1, same_second=4)
    for t in ("clients", "leads", "business_cards"):
        after = {r["id"]: r for r in sb.expected(t)}
        served, _ = fetch_all(sb, LEADS if t == "leads" else CLIENTS if t == "clients" else CARDS, t,
                              page__display_number=100)
        assert served == list(after.values())
        r = res[t]
        assert len(r["updated"]) == 20 and len(r["inserted"]) == 5 and len(r["deleted"]) == 3
        for rid in r["updated"]:
            assert after[rid]["updated_at"] == now and after[rid] != before[t][rid]
        for rid in r["inserted"]:
            assert rid not in before[t] and after[rid]["created_at"] == now
        gone = set(r["deleted"]) | {dup for dup, _ in r["merged"]}
        assert gone and not gone & set(after) and gone <= set(before[t])
        for dup, keep in r["merged"]:
            assert after[keep]["updated_at"] == now
    for rid in res["leads"]["same_second"]:
        assert sb.expected("leads")[[x["id"] for x in sb.expected("leads")].index(rid)]["updated_at"] == old_max
    # incremental read from the clock catches all updates and inserts
    got = call(sb, LEADS, page__display_number=100, search__from_datetime_updated_on=now).json()["leads"]
    assert {*res["leads"]["updated"], *res["leads"]["inserted"]} <= {r["id"] for r in got}


def test_expected_equals_served(sb):
    for path, table in ((CLIENTS, "clients"), (LEADS, "leads"), (CARDS, "business_cards")):
        served, pages = fetch_all(sb, path, table, page__display_number=100)
        assert served == sb.expected(table)
        assert pages["total_count"] == len(served)


def test_single_mutations_and_on_page(sb):
    sb.tick(seconds=5)
    new = sb.insert("clients", name="株式会社テスト")
    assert sb.expected("clients")[-1]["id"] == new
    assert sb.expected("clients")[-1]["name"] == "株式会社テスト"
    sb.delete("clients", new)
    assert new not in {r["id"] for r in sb.expected("clients")}
    calls = []

    def hook(table, page):
        calls.append((table, page))
        if page == 2:
            sb.delete("leads", sb.expected("leads")[0]["id"])

    sb.on_page(hook)
    first = call(sb, LEADS, page__display_number=100, page__number=1).json()["pages"]["total_count"]
    second = call(sb, LEADS, page__display_number=100, page__number=2).json()["pages"]["total_count"]
    assert calls == [("leads", 1), ("leads", 2)] and second == first - 1
    sb.on_page(None)


def test_rate_limit():
    with HotProfileSandbox(clients=10, leads=10, business_cards=10, rate=(3, 0.5)) as sb:
        codes = [call(sb, CLIENTS).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        r = call(sb, CLIENTS)
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        time.sleep(0.55)
        assert call(sb, CLIENTS).status_code == 200


def test_faults_pass_through():
    with HotProfileSandbox(clients=10, leads=10, business_cards=10) as sb:
        sb.server.faults.add("503", path="leads", times=1)
        assert call(sb, LEADS).status_code == 503
        assert call(sb, LEADS).status_code == 200
        assert len(sb.server.requests_to("leads")) == 2


def test_determinism():
    a = HotProfileSandbox(seed=7, clients=50, leads=80, business_cards=40)
    b = HotProfileSandbox(seed=7, clients=50, leads=80, business_cards=40)
    c = HotProfileSandbox(seed=8, clients=50, leads=80, business_cards=40)
    try:
        for t in ("clients", "leads", "business_cards"):
            assert json.dumps(a.expected(t)) == json.dumps(b.expected(t))
            assert a.expected(t) != c.expected(t)
        a.tick(60), b.tick(60)
        assert a.mutate(seed=3, same_second=2) == b.mutate(seed=3, same_second=2)
        assert a.insert("leads") == b.insert("leads")
        for t in ("clients", "leads", "business_cards"):
            assert a.expected(t) == b.expected(t)
    finally:
        for box in (a, b, c):
            box.stop()

def test_page_cap_serves_fewer_rows_with_truthful_totals():
    with HotProfileSandbox(clients=60, leads=10, business_cards=60, rate=None,
                           page_cap={"clients": 25}) as sb:
        body = call(sb, CLIENTS, page__display_number=1000).json()
        assert len(body["clients"]) == 25
        assert body["pages"] == {"current_number": 1, "display_number": 25, "total_count": 60, "total_number": 3}
        ids = [r["id"] for r in sb.expected("clients")]
        body = call(sb, CLIENTS, page__display_number=1000, page__number=3).json()
        assert [r["id"] for r in body["clients"]] == ids[50:]
        body = call(sb, CLIENTS, page__display_number=1000, search__from_id=ids[25]).json()
        assert [r["id"] for r in body["clients"]] == ids[25:50] and body["pages"]["total_count"] == 35
        assert len(call(sb, CARDS, page__display_number=1000).json()["business_cards"]) == 60   # other tables as asked
        sb.page_cap = None
        assert len(call(sb, CLIENTS, page__display_number=1000).json()["clients"]) == 60


def test_lost_rows_end_the_pages_early_but_not_the_totals():
    with HotProfileSandbox(clients=60, leads=10, business_cards=60, rate=None,
                           lost_rows={"clients": 35, "business_cards": 35}) as sb:
        ids = [r["id"] for r in sb.expected("clients")]
        body = call(sb, CLIENTS, page__display_number=1000).json()
        assert [r["id"] for r in body["clients"]] == ids[:25]
        assert body["pages"]["total_count"] == 60 and body["pages"]["total_number"] == 1
        body = call(sb, CLIENTS, page__display_number=1000, search__from_id=ids[25]).json()
        assert body["clients"] == [] and body["pages"]["total_count"] == 35
        cards = [r["id"] for r in sb.expected("business_cards")]
        body = call(sb, CARDS, page__display_number=20, order__type="desc").json()       # the tail in the order asked
        assert [r["id"] for r in body["business_cards"]] == cards[::-1][:20]
        body = call(sb, CARDS, page__display_number=20, page__number=2, order__type="desc").json()
        assert [r["id"] for r in body["business_cards"]] == cards[::-1][20:25]
        assert body["pages"]["total_count"] == 60


def test_patch_sets_undocumented_fields_and_other_types(sb):
    rid = sb.ids("clients")[0]
    sb.tick(5)
    sb.patch("clients", rid, jsic_business_category_kbn="E", latitude=35.5, items="one")
    row = call(sb, CLIENTS, search__from_id=rid, search__to_id=rid).json()["clients"][0]
    assert row["jsic_business_category_kbn"] == "E" and row["latitude"] == 35.5 and row["items"] == "one"
    assert row["updated_at"] == sb.clock_str
    assert sb.expected("clients")[0]["items"] == "one"
    with pytest.raises(KeyError):
        sb.update("clients", rid, jsic_business_category_kbn="E")       # update() keeps to the spec's fields
