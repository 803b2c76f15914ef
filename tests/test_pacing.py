"""Pipedrive pacing learned from the server: the burst comes from x-ratelimit-limit (rate_limit_burst only
caps it), the window is kept full from the client's own accounting, and only a header that contradicts
that accounting (or a 429) makes it pause. Fake clocks and `responses` mocks; no sleeping."""
from __future__ import annotations

import logging

import pytest
import responses

from conftest import PD_TOKEN, FakeClock, pd_settings, run_pipedrive
from sources._http import Pacer, pipedrive_client

BASE = "https://acme.pipedrive.com"
DEALS = f"{BASE}/api/v2/deals"
OK = {"success": True, "data": [], "additional_data": {"next_cursor": None}}


def rate(limit: int | None = None, remaining: int | None = None, reset: int = 2) -> dict[str, str]:
    headers = {"x-ratelimit-reset": str(reset)}
    if limit is not None:
        headers["x-ratelimit-limit"] = str(limit)
    if remaining is not None:
        headers["x-ratelimit-remaining"] = str(remaining)
    return headers


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def client_for(clock, burst=None):
    return pipedrive_client(BASE, PD_TOKEN, burst=burst, clock=clock, sleep=clock.sleep)


@pytest.mark.parametrize("cap, before, learned", [
    (None, 20, 100),      # no setting: the entry plan's 20 until an answer says the plan's 100
    (200, 20, 100),       # a cap above the server's limit is not used
    (10, 10, 10),         # a cap below it is respected, also before the first answer
    (10_000, 20, 100),
])
@responses.activate
def test_the_burst_is_learned_from_the_server_and_capped_by_the_setting(clock, cap, before, learned):
    client = client_for(clock, cap)
    assert client.pacer.max_requests == before
    responses.get(DEALS, json=OK, headers=rate(100, 99))
    client.get("/api/v2/deals")
    assert client.pacer.max_requests == learned and client.pacer.limit == 100


@responses.activate
def test_a_cap_above_the_plan_is_logged_once(clock, caplog):
    caplog.set_level(logging.INFO, logger="crm_elt.http")
    client = client_for(clock, 120)
    responses.get(DEALS, json=OK, headers=rate(40, 39))
    client.get("/api/v2/deals")
    client.get("/api/v2/deals")
    assert client.pacer.max_requests == 40
    assert [r.getMessage() for r in caplog.records].count(
        "rate_limit_burst 120 is above the 40 requests per 2s the server allows: using 40") == 1


@pytest.mark.parametrize("cap, expected", [(None, 20), (10_000, 10_000), (8, 8)])
@responses.activate
def test_without_rate_headers_the_setting_or_20_holds(clock, cap, expected):
    client = client_for(clock, cap)
    responses.get(DEALS, json=OK)
    client.get("/api/v2/deals")
    assert client.pacer.max_requests == expected


@responses.activate
def test_a_later_answer_without_the_header_keeps_the_learned_burst(clock):
    client = client_for(clock)
    responses.get(DEALS, json=OK, headers=rate(80, 79))
    client.get("/api/v2/deals")
    responses.replace(responses.GET, DEALS, json=OK)
    client.get("/api/v2/deals")
    assert client.pacer.max_requests == 80


@responses.activate
def test_no_pause_on_a_remaining_zero_the_accounting_predicts(clock):
    """Three requests fill a 3-request window: the third answer's remaining 0 (reset 5 s) is what the
    slots predict, so the fourth request waits only until the first slot frees (2 s), not the reset."""
    client = client_for(clock)
    for remaining in (2, 1, 0, 2):
        responses.get(DEALS, json=OK, headers=rate(3, remaining, reset=5))
    for _ in range(3):
        client.get("/api/v2/deals")
        clock.now += 0.1                              # 100 ms between requests
    assert clock.sleeps == [] and client.pacer.contradictions == 0
    client.get("/api/v2/deals")
    assert sum(clock.sleeps) == pytest.approx(2.0 - 0.3)        # until the first answer's slot frees
    assert client.pacer.contradictions == 0


@responses.activate
def test_a_remaining_zero_that_contradicts_the_accounting_waits_for_the_reset(clock):
    """Another integration shares the token: the server's window is full after our first request."""
    client = client_for(clock)
    responses.get(DEALS, json=OK, headers=rate(20, 0, reset=3))
    responses.get(DEALS, json=OK, headers=rate(20, 19))
    client.get("/api/v2/deals")
    assert clock.sleeps == []
    client.get("/api/v2/deals")
    assert 3.0 <= sum(clock.sleeps) <= 3.3 and client.pacer.contradictions == 1


def test_fewer_remaining_than_predicted_holds_the_difference_for_a_window(clock):
    pacer = Pacer(10, 2.0, clock, clock.sleep)
    slot = pacer.acquire()
    pacer.complete(slot)
    pacer.observe(slot, 6, lambda: 9.0)              # the server counts 4, we sent 1: 3 are someone else's
    assert pacer.contradictions == 1 and len(pacer.slots) == 4
    for _ in range(6):
        pacer.complete(pacer.acquire())
    assert clock.sleeps == []
    pacer.acquire()                                   # the 11th in the window waits for it to roll
    assert sum(clock.sleeps) == pytest.approx(2.0)


def test_a_request_that_left_the_accounting_while_the_next_was_in_flight_is_no_contradiction(clock):
    """The server counted the second request while the first still counted; the first's slot has left the
    window by the time the second answer arrives: the server's count (2 of 2) is what we predicted."""
    pacer = Pacer(2, 2.0, clock, clock.sleep)
    first = pacer.acquire()
    pacer.complete(first)
    clock.now += 1.9
    second = pacer.acquire()
    clock.now += 0.2                                  # the first slot leaves the window meanwhile
    pacer.complete(second)
    pacer.observe(second, 0, lambda: 9.0)
    assert pacer.contradictions == 0 and pacer.paused_until == 0.0


def test_per_deal_workers_follow_the_learned_burst_and_the_cap(clock):
    from sources.pipedrive.readers import PipedriveRun

    client = client_for(clock)
    run = PipedriveRun(client, None, {}, None)
    assert run.workers == 5                          # the entry plan's 20 before an answer
    client.pacer.learn(100)
    assert run.workers == 16
    assert PipedriveRun(client, None, {}, None, burst_cap=8).workers == 2


@pytest.mark.parametrize("value, expected", [(None, None), ("", None), ("40", 40), (100, 100)])
def test_rate_limit_burst_is_optional(value, expected):
    from sources.pipedrive.config import pipedrive_settings

    settings = pipedrive_settings("t-123456789", None, "http://127.0.0.1:1", None, value, 24, 5)
    assert settings.rate_limit_burst == expected


@pytest.mark.parametrize("burst", [20, 100])
def test_a_first_load_without_a_configured_burst_gets_no_429(target, burst):
    """The emulated plans of 20 and 100 requests (a short window keeps the test fast): nothing configured,
    the client learns the plan's burst from the first answer and fills the window without a 429."""
    from sandbox.pipedrive import PipedriveSandbox

    with PipedriveSandbox(seed=5, deals=40, token=PD_TOKEN, burst=burst, window=0.25) as sb:
        client = pipedrive_client(sb.base_url, PD_TOKEN, window=0.25)
        result = run_pipedrive(sb, target, tables=["deals", "dealflow", "deal_participants"], client=client,
                               settings=pd_settings(sb, rate_limit_burst=None))
        assert sb.app.limiter.limited_total == 0
        assert client.pacer.max_requests == burst and client.pacer.contradictions == 0
        assert sum(t.requests for t in result.tables) > 80
