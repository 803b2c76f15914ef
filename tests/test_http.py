"""The HTTP layer at the wire: strict `responses` mocks, a fake clock, no sleeping."""
from __future__ import annotations

import logging

import pytest

from conftest import FakeClock
import requests
import responses

from sources._errors import ApiError, BudgetExhausted, ConfigError
from sources._http import JITTER, Pacer, hotprofile_client, pipedrive_client

BASE = "https://acme.pipedrive.com"
TOKEN = "pd-secret-token-123456"
KEY = "hp-secret-key-abcdef"
DEALS = f"{BASE}/api/v2/deals"
OK = {"success": True, "data": [{"id": 1}], "additional_data": {"next_cursor": None}}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(clock):
    return pipedrive_client(BASE, TOKEN, burst=20, clock=clock, sleep=clock.sleep)


def test_pacer_never_exceeds_burst_in_any_window(clock):
    pacer = Pacer(20, 2.0, clock, clock.sleep)
    stamps = []
    for _ in range(65):
        slot = pacer.acquire()
        stamps.append(clock.now)
        clock.now += 0.01  # each request takes 10 ms
        pacer.complete(slot)
    for i, start in enumerate(stamps):
        assert sum(1 for t in stamps[i:] if t < start + 2.0) <= 20
    # 65 requests at 20 per 2 s need three full waits, not more
    assert 5.9 < clock.now - 1000.0 < 7.0


def test_pacer_counts_requests_in_flight(clock):
    pacer = Pacer(2, 1.0, clock, clock.sleep)
    first, second = pacer.acquire(), pacer.acquire()
    polls = []

    def sleep(seconds):                      # the third caller polls while both requests are unanswered
        polls.append(seconds)
        clock.now += seconds
        if len(polls) == 30:
            pacer.complete(first)

    pacer.sleep = sleep
    pacer.acquire()
    assert len(polls) > 30                   # waited for the answer, then a window after it, less the server's
    answered, trip = 1000.0 + 30 * 0.05, 30 * 0.05              # share of the trip (half of it, less jitter)
    assert clock.now >= answered + 1.0 - (trip / 2 - JITTER) - 1e-9
    pacer.complete(second)


def test_on_a_fast_network_a_slot_leaves_a_full_window_after_its_answer(clock):
    pacer = Pacer(1, 2.0, clock, clock.sleep)
    slot = pacer.acquire()
    clock.now += 0.004                       # a 4 ms round trip: no margin to take
    pacer.complete(slot)
    answered = clock.now
    pacer.acquire()
    assert clock.now >= answered + 2.0 - 1e-9


@responses.activate(assert_all_requests_are_fired=True)
def test_token_is_sent_as_header_not_in_url(client):
    responses.get(DEALS, json=OK, match=[responses.matchers.header_matcher({"x-api-token": TOKEN})])
    assert client.get("/api/v2/deals", {"limit": 500}, table="deals", cost=10) == OK
    assert TOKEN not in responses.calls[0].request.url
    assert client.stats["deals"].requests == 1 and client.stats["deals"].tokens == 10


@responses.activate
def test_429_honours_x_ratelimit_reset(client, clock):
    responses.get(DEALS, status=429, json={"success": False, "error": "Request over limit"},
                  headers={"x-ratelimit-reset": "3", "x-ratelimit-remaining": "0"})
    responses.get(DEALS, json=OK)
    assert client.get("/api/v2/deals")["data"] == [{"id": 1}]
    assert len(responses.calls) == 2
    assert 3.0 <= sum(clock.sleeps) <= 3.3


@responses.activate
def test_429_honours_retry_after(client, clock):
    responses.get(DEALS, status=429, json={"success": False}, headers={"Retry-After": "7"})
    responses.get(DEALS, json=OK)
    client.get("/api/v2/deals")
    assert 7.0 <= sum(clock.sleeps) <= 7.3


@responses.activate
def test_remaining_zero_pauses_before_next_request(client, clock):
    responses.get(DEALS, json=OK, headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": "2"})
    responses.get(DEALS, json=OK, headers={"x-ratelimit-remaining": "19", "x-ratelimit-reset": "2"})
    client.get("/api/v2/deals")
    assert clock.sleeps == []
    client.get("/api/v2/deals")
    assert 2.0 <= sum(clock.sleeps) <= 2.3


@responses.activate
def test_daily_budget_429_stops_cleanly(client):
    responses.get(DEALS, status=429, headers={"x-daily-requests-left": "0"},
                  json={"success": False, "error": "Daily rate limit exceeded"})
    with pytest.raises(BudgetExhausted) as caught:
        client.get("/api/v2/deals")
    assert caught.value.exit_code == 4
    assert len(responses.calls) == 1


@responses.activate
def test_5xx_retried_with_bounded_backoff(client, clock):
    responses.get(DEALS, status=503)
    responses.get(DEALS, status=502)
    responses.get(DEALS, json=OK)
    assert client.get("/api/v2/deals", table="deals") == OK
    assert len(clock.sleeps) == 2 and clock.sleeps[1] > 0
    assert client.stats["deals"].retries == 2


@responses.activate
def test_5xx_gives_up_after_max_retries(client):
    responses.get(DEALS, status=500)
    with pytest.raises(ApiError, match="HTTP 500"):
        client.get("/api/v2/deals")
    assert len(responses.calls) == client.max_retries + 1


@responses.activate
def test_connection_reset_and_malformed_json_are_retried(client):
    responses.get(DEALS, body=requests.ConnectionError("Connection reset by peer"))
    responses.get(DEALS, body='{"success": true, "data": [')
    responses.get(DEALS, json=OK)
    assert client.get("/api/v2/deals") == OK


@pytest.mark.parametrize("status, kind, needle", [
    (401, ConfigError, "api_token"),
    (402, ConfigError, "402 Payment Required"),
    (403, ConfigError, "403 Forbidden"),
])
@responses.activate
def test_access_errors_fail_fast_with_what_to_fix(client, status, kind, needle):
    responses.get(DEALS, status=status, json={"success": False, "error": "unauthorized access"})
    with pytest.raises(kind, match=needle) as caught:
        client.get("/api/v2/deals")
    assert len(responses.calls) == 1
    assert "\n" not in str(caught.value) and TOKEN not in str(caught.value)


@responses.activate
def test_cloudflare_403_is_not_blamed_on_the_token(client):
    responses.get(DEALS, status=403, body="<html><title>Attention Required! | Cloudflare</title></html>")
    with pytest.raises(BudgetExhausted, match="Cloudflare"):          # a stop like a spent budget: exit 4
        client.get("/api/v2/deals")
    with pytest.raises(BudgetExhausted, match="Cloudflare"):          # and no further request is sent
        client.get("/api/v2/persons")
    assert len(responses.calls) == 1


@responses.activate
def test_unknown_domain_is_a_config_error(clock):
    client = pipedrive_client("https://no-such-company.pipedrive.com", TOKEN, clock=clock, sleep=clock.sleep)
    responses.get("https://no-such-company.pipedrive.com/api/v2/deals",
                  body=requests.ConnectionError("Failed to resolve: [Errno -2] Name or service not known"))
    with pytest.raises(ConfigError, match="company_domain"):
        client.get("/api/v2/deals")


@responses.activate
def test_hotprofile_key_never_leaks_in_errors_or_logs(clock, caplog):
    caplog.set_level(logging.DEBUG)
    client = hotprofile_client("https://example.hot-profile.com", KEY, clock=clock, sleep=clock.sleep)
    url = "https://example.hot-profile.com/rest_api/v1/clients/get_entry_list_flow"
    responses.post(url, body=requests.ConnectionError(f"Max retries exceeded with url: {url}?api_key={KEY}"))
    responses.post(url, status=500, body=f"<html>error for api_key={KEY}</html>")
    with pytest.raises(ApiError) as caught:
        client.post("/rest_api/v1/clients/get_entry_list_flow", {"page[number]": 1})
    assert responses.calls[-1].request.method == "POST"
    assert f"api_key={KEY}" in responses.calls[-1].request.url      # HotProfile's auth is in the query string
    logging.getLogger("urllib3.connectionpool").debug("GET %s", f"/x?api_key={KEY}")
    assert KEY not in str(caught.value)
    assert KEY not in caplog.text
    assert "api_key=***" in caplog.text


@responses.activate
def test_exhausted_network_retries_chain_no_exception_that_holds_the_url(clock):
    client = hotprofile_client("https://example.hot-profile.com", KEY, clock=clock, sleep=clock.sleep)
    url = "https://example.hot-profile.com/rest_api/v1/leads/get_entry_list_flow"
    responses.post(url, json={"leads": []})                        # the host answered once in this run
    client.post("/rest_api/v1/leads/get_entry_list_flow")
    responses.post(url, body=requests.ConnectionError(f"Max retries exceeded with url: {url}?api_key={KEY}"))
    with pytest.raises(ApiError, match=r"^HotProfile could not be reached \(ConnectionError\), 7 attempts "
                                       r"\(POST /rest_api/v1/leads/get_entry_list_flow\): the next run") as caught:
        client.post("/rest_api/v1/leads/get_entry_list_flow")
    assert len(responses.calls) == 1 + client.max_retries + 1
    # dlt's trace follows __context__/__cause__: nothing may be chained to our error
    assert caught.value.__context__ is None and caught.value.__cause__ is None and KEY not in str(caught.value)


@responses.activate
def test_a_host_never_reached_fails_after_three_attempts_naming_it(clock):
    client = hotprofile_client("https://example.hot-profile.com", KEY, clock=clock, sleep=clock.sleep)
    url = "https://example.hot-profile.com/rest_api/v1/leads/get_entry_list_flow"
    responses.post(url, body=requests.ConnectionError(f"Max retries exceeded with url: {url}?api_key={KEY}"))
    with pytest.raises(ApiError, match=r"^HotProfile unreachable at example\.hot-profile\.com \(ConnectionError, "
                                       r"3 attempts\): check sources\.hotprofile\.url_instance") as caught:
        client.post("/rest_api/v1/leads/get_entry_list_flow")
    assert len(responses.calls) == 3 and sum(clock.sleeps) < 5 and caught.value.__context__ is None


def test_a_token_with_a_newline_is_a_config_error_not_retried(clock):
    client = pipedrive_client(BASE, TOKEN + "\n", clock=clock, sleep=clock.sleep)
    with pytest.raises(ConfigError, match="api_token") as caught:
        client.get("/api/v2/deals")
    assert clock.sleeps == [] and caught.value.__context__ is None
