"""The only module that speaks HTTP: sessions, auth, retries, rate pacing, error policy.

Every source gets an ``ApiClient`` from ``pipedrive_client`` or ``hotprofile_client``. Errors leave this
module as ``CrmEltError`` subclasses whose messages are one line, name what to fix and never carry a
secret (the original ``requests`` exception, which may hold a URL with ``api_key``, is dropped).
"""
from __future__ import annotations

import logging
import math
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable
from urllib.parse import urlencode, urlsplit

import requests

from sources._errors import AccessDenied, ApiError, BudgetExhausted, CapReached, ConfigError, CrmEltError
from sources._redact import redact, register_secret
from sources._stats import RunStats
from sources import _stop as stop

log = logging.getLogger("crm_elt.http")

# --- pacing ------------------------------------------------------------------------------------


JITTER = 0.025            # seconds a one-way trip may vary (the pacer keeps this margin on a slow network)
ENTRY_BURST = 20          # Pipedrive's smallest plan: requests per 2 s before an answer says the account's


class Pacer:
    """Rolling-window limiter: at most ``max_requests`` per ``window`` seconds, plus server pauses.

    A request occupies its slot from send until ``window`` seconds after its response: the server counted it
    somewhere in between, so the window never over-fills, also with several requests in flight. The window is
    kept exactly full from this accounting; the server's word only pauses it where they disagree (``observe``).
    ``max_requests`` may be learned from the server (``learn``), never above ``cap``; until an answer says it,
    ``fallback`` holds. ``clock`` and ``sleep`` are injectable so tests run on a fake clock.
    """

    def __init__(self, max_requests: int, window: float,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep, *,
                 cap: int | None = None, fallback: int | None = None):
        self.max_requests, self.window = max_requests, window
        self.clock, self.sleep = clock, sleep
        self.cap = cap                              # at most this many per window (config), None: the server's
        self.fallback = fallback or max_requests    # per window when the server never says its limit
        self.limit: int | None = None               # the server's limit per window, once an answer said it
        self.slots: list[list[float]] = []          # [stamp, sent] per request: stamp is inf until the response
        self.gone: list[float] = []                 # stamps of slots left the window (observe looks back)
        self.paused_until = 0.0
        self.waited = 0.0
        self.contradictions = 0                     # answers that showed the server counting more than we did
        self.fastest_trip: float | None = None      # the shortest round trip seen (send to response)
        self._lock = threading.Lock()
        self._warned_cap = False

    def acquire(self) -> list[float]:
        """Wait for a free slot; hand the slot to ``complete`` when the response has arrived."""
        while True:
            with self._lock:
                now = self.clock()
                wait = self.paused_until - now
                if wait <= 0:
                    self._prune(now)
                    if len(self.slots) < self.max_requests:
                        slot = [math.inf, now]        # in flight: it counts until window after its response
                        self.slots.append(slot)
                        return slot
                    wait = min(slot[0] for slot in self.slots) + self.window - now
                    if wait == math.inf:              # every slot is in flight: poll until one answers
                        wait = min(self.window / 20, 0.05)
            self._wait(wait)

    def complete(self, slot: list[float]) -> None:
        """The response arrived. The server counted the request after its trip there and before the answer's
        trip back: a slot leaves the window ``window`` after the answer minus half the fastest round trip
        seen (the next request, too, travels about that long before the server counts it), less ``JITTER``
        for trips that vary. On a fast network the slot simply leaves ``window`` after the answer."""
        with self._lock:
            now = self.clock()
            trip = now - slot[1]
            self.fastest_trip = trip if self.fastest_trip is None else min(self.fastest_trip, trip)
            slot[0] = now - max(0.0, self.fastest_trip / 2 - JITTER)

    def pause(self, seconds: float) -> None:
        with self._lock:
            self.paused_until = max(self.paused_until, self.clock() + seconds)

    def learn(self, limit: int | None) -> None:
        """The server's requests per window as an answer said it (``None``: it did not say). The burst from
        now on is that limit, or ``cap`` when lower; without a word ever, ``fallback``."""
        with self._lock:
            if limit is None or limit < 1:
                if self.limit is None:
                    self.max_requests = self.fallback
                return
            if limit != self.limit:
                log.debug("the server allows %d requests per %gs", limit, self.window)
            self.limit = limit
            self.max_requests = min(limit, self.cap) if self.cap else limit
            if self.cap and self.cap > limit and not self._warned_cap:
                self._warned_cap = True
                log.info("rate_limit_burst %d is above the %d requests per %gs the server allows: using %d",
                         self.cap, limit, self.window, limit)

    def observe(self, slot: list[float], remaining: int, reset: Callable[[], float]) -> None:
        """The count of requests the server still accepts in its window, from the answer to ``slot``'s
        request. This client's accounting predicts it: the server counted that request somewhere between its
        send and its response, and of this client's requests it can count only those whose slot had not left
        the window when it was sent. When the server counts more (another integration shares the token),
        trust the server: at ``remaining`` 0 pause until its ``reset()``, otherwise hold the extra requests as
        slots for a window. A ``remaining`` 0 the accounting predicts is no reason to wait: the next slot
        frees when the window says."""
        with self._lock:
            now, sent = self.clock(), slot[1]
            self._prune(now)
            if sent <= now - self.window:         # a slow answer: when the server counted is anybody's guess
                return
            ours = len(self.slots) + sum(1 for stamp in self.gone if stamp + self.window > sent)
            foreign = (self.limit or self.max_requests) - remaining - ours
            if foreign <= 0:
                return
            self.contradictions += 1
            if remaining <= 0:
                self.paused_until = max(self.paused_until, now + reset())
                log.debug("the server's window is full while %d slots were free: pausing until its reset",
                          self.max_requests - len(self.slots))
            else:
                self.slots.extend([now, now] for _ in range(foreign))

    def _prune(self, now: float) -> None:
        edge = now - self.window
        self.gone = ([stamp for stamp in self.gone if stamp > edge - self.window]
                     + [slot[0] for slot in self.slots if slot[0] <= edge])
        self.slots = [slot for slot in self.slots if slot[0] > edge]

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self.waited += seconds
            self.sleep(seconds)


# --- client ------------------------------------------------------------------------------------


@dataclass
class ErrorPolicy:
    """What one API's answers mean; the client applies it."""

    api: str                                   # "Pipedrive"
    credential_key: str                        # config key to blame on 401
    location_key: str                          # config key to blame on unknown host
    is_budget_exhausted: Callable[[requests.Response], bool] = lambda r: False
    reset_headers: tuple[str, ...] = ("Retry-After",)
    limit_header: str | None = None            # requests the server allows per window (the pacer learns it)
    remaining_header: str | None = None        # requests the server still accepts in its window
    slow_down: str = "retry later"             # what to do when 429s do not stop
    budget_header: str | None = None           # tokens left in the daily budget, sent with each answer

    @property
    def report(self) -> str:
        """What to do about an endpoint that failed for good (its table keeps its rows and cursor)."""
        return f"the next run reads it again; if this persists, report it to {self.api} support"


@dataclass
class ApiClient:
    base_url: str
    policy: ErrorPolicy
    pacer: Pacer
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)   # auth in the query string (HotProfile)
    timeout: tuple[float, float] = (10.0, 120.0)
    max_retries: int = 6
    first_contact_attempts: int = 3            # before any answer: give up within ~35 s, naming the host
    max_rate_limit_waits: int = 20
    backoff: float = 1.0
    max_backoff: float = 60.0
    session: requests.Session = field(default_factory=requests.Session)
    stats: RunStats = field(default_factory=RunStats)         # the run's counters (requests, tokens, retries)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self.reached = False                   # any HTTP answer from the host so far
        # the budget stop of this run: once the API says the budget is spent (or the token is blocked),
        # no worker sends another request (each would be another 429, and 429s get a token blocked)
        self.spent: BudgetExhausted | None = None
        self.budget_left: int | None = None    # tokens left today, as the last answer said
        self.reserved = 0                      # tokens of the requests sent and not answered yet
        self.cap: int | None = None            # tokens this run may spend (the source's token caps)
        self.cap_rule = ""
        self._flight = threading.Lock()
        # per-deal reads run a few requests in parallel: keep a connection per worker
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=32)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"Accept": "application/json", "User-Agent": "crm-elt/0.1", **self.headers})
        for secret in [*self.headers.values(), *self.params.values()]:
            register_secret(secret)

    def get(self, path: str, params: dict[str, Any] | None = None, **kw: Any) -> Any:
        return self.request("GET", path, params, **kw)

    def post(self, path: str, params: dict[str, Any] | None = None, **kw: Any) -> Any:
        return self.request("POST", path, params, **kw)

    def request(self, method: str, path: str, params: dict[str, Any] | None = None, *,
                table: str = "-", cost: int = 1, missing_ok: bool = False) -> Any:
        """Send one logical request (retrying as the policy allows) and return the decoded JSON.

        ``missing_ok``: a 404 means the object is gone (e.g. a deal deleted meanwhile): return None.
        """
        stop.raise_if_requested()
        self._reserve(cost, path)
        try:
            return self._request(method, path, params, table=table, cost=cost, missing_ok=missing_ok)
        finally:
            with self._flight:
                self.reserved -= cost

    def _reserve(self, cost: int, path: str) -> None:
        """No request starts once the budget is spent, or once what is left cannot pay for it and for the
        requests in flight: a spent budget answers every worker with a 429 at once, and a burst of 429s gets
        the token blocked by Cloudflare. Requests in flight finish; their rows load."""
        with self._flight:
            if not self.spent and self.budget_left is not None and self.budget_left - self.reserved < cost:
                self.spent = BudgetExhausted(f"{self.policy.api} daily API budget nearly exhausted "
                                             f"({self.budget_left} tokens left, GET {path} costs {cost}); already "
                                             "loaded tables are kept, run again after the budget resets")
            if self.spent:
                raise BudgetExhausted(str(self.spent))
            if self.cap is not None and self.stats.tokens + self.reserved + cost > self.cap:
                raise CapReached(f"token cap reached ({self.cap_rule}): this run spent {self.stats.tokens} "
                                 f"tokens; what was read is loaded, the next run continues")
            self.reserved += cost

    def _request(self, method: str, path: str, params: dict[str, Any] | None, *, table: str, cost: int,
                 missing_ok: bool) -> Any:
        url = self.base_url + path
        query = {k: v for k, v in (params or {}).items() if v is not None}
        shown = f"{method} {path}" + (f"?{urlencode(query)}" if query else "")
        endpoint = f"{method} {path}"                 # what error lines name (the query is in the debug log)
        attempts = rate_limited = 0
        while True:
            response = self._send(method, url, query)
            if isinstance(response, str):                      # a network failure, by exception name
                if not self.reached and attempts + 1 >= self.first_contact_attempts:
                    # never reached this host in this run: a wrong address or a host that is down, not a blip
                    host = urlsplit(self.base_url).netloc
                    raise ApiError(f"{self.policy.api} unreachable at {host} ({response}, {attempts + 1} attempts): "
                                   f"check {self.policy.location_key} and the network", whole_run=True)
                attempts = self._retry(table, attempts, f"{self.policy.api} could not be reached ({response})",
                                       endpoint, f"{response} on {shown}")
                continue
            self.reached = True
            self.stats.count(table, requests=1, tokens=cost)
            log.debug("%s -> %s", redact(shown), response.status_code)
            left = response.headers.get(self.policy.budget_header or "", "")
            if left.isdigit():
                self.budget_left = int(left)
            status = response.status_code
            if status == 429:
                if self.policy.is_budget_exhausted(response):
                    self.spent = BudgetExhausted(f"{self.policy.api} daily API budget exhausted ({shown}); "
                                                 "already loaded tables are kept, run again after the budget resets")
                    raise self.spent
                rate_limited += 1
                if rate_limited > self.max_rate_limit_waits:
                    raise ApiError(f"{self.policy.api} kept answering 429 Too Many Requests", endpoint,
                                   self.policy.slow_down)
                self.pacer.pause(self._reset_seconds(response))
                continue
            if status in (401, 402, 403):
                error = self._access_error(response, endpoint)
                if isinstance(error, BudgetExhausted):
                    self.spent = error
                raise error
            if status >= 500 or status == 408:
                attempts = self._retry(table, attempts, f"{self.policy.api} answered HTTP {status}", endpoint,
                                       f"HTTP {status} on {shown}")
                continue
            if status == 404 and missing_ok:
                return None
            if status == 404:
                raise ApiError(f"{self.policy.api} answered 404 Not Found", endpoint, f"check {self.policy.location_key}")
            if status >= 400:
                raise ApiError(f"{self.policy.api} rejected the request with HTTP {status}: "
                               f"{redact(_snippet(response))}", endpoint, self.policy.report)
            try:
                body, decoded = response.json(), True
            except ValueError:
                body, decoded = None, False
            if decoded:
                return body
            attempts = self._retry(table, attempts, f"{self.policy.api} sent a body that is not JSON: "
                                   f"{redact(_snippet(response))}", endpoint, f"malformed JSON on {shown}")

    def _send(self, method: str, url: str, query: dict[str, Any]) -> requests.Response | str:
        """One paced HTTP exchange: the response, or the name of the network failure.

        Errors are raised only after the ``except`` block: a chained ``requests`` exception would carry
        the URL (with HotProfile's ``api_key``) into dlt's trace through ``__context__``.
        """
        slot = self.pacer.acquire()
        failure: requests.RequestException | None = None
        try:
            response = self.session.request(method, url, params={**query, **self.params},
                                            timeout=self.timeout, data=b"" if method == "POST" else None)
        except requests.RequestException as exc:
            failure, response = exc, None
        finally:
            self.pacer.complete(slot)
        if failure is None:
            self._observe_rate_headers(response, slot)
            return response
        name, unresolvable = type(failure).__name__, self._unresolvable(failure)
        del failure
        if name in ("InvalidHeader", "InvalidURL", "MissingSchema", "InvalidSchema", "InvalidJSONError"):
            raise ConfigError(f"{self.policy.api} request could not be built ({name}): check "
                              f"{self.policy.credential_key} and {self.policy.location_key} for stray characters")
        if unresolvable:
            host = urlsplit(self.base_url).netloc
            raise ConfigError(f"cannot resolve {self.policy.api} host {host!r}: check {self.policy.location_key}")
        return name

    def _retry(self, table: str, attempts: int, what: str, endpoint: str, why: str) -> int:
        """Count a failed attempt; back off, or raise ``what`` once retries are spent."""
        attempts += 1
        self.stats.count(table, retries=1)
        if attempts > self.max_retries:
            raise ApiError(f"{what}, {attempts} attempts", endpoint, self.policy.report)
        self._backoff(attempts, why)
        return attempts

    @staticmethod
    def _unresolvable(exc: requests.RequestException) -> bool:
        text = str(exc)
        return any(marker in text for marker in ("Name or service not known", "NameResolutionError",
                                                 "nodename nor servname", "No address associated",
                                                 "getaddrinfo failed"))

    def _observe_rate_headers(self, response: requests.Response, slot: list[float]) -> None:
        """Learn the burst from the answer; pause only where it contradicts the pacer's own count (a 429
        pauses in ``_request``)."""
        if self.policy.limit_header:
            self.pacer.learn(_count(response.headers.get(self.policy.limit_header)))
        remaining = _count(response.headers.get(self.policy.remaining_header or ""))
        if remaining is not None and response.status_code != 429:
            self.pacer.observe(slot, remaining, lambda: self._reset_seconds(response))

    def _reset_seconds(self, response: requests.Response) -> float:
        waits = []
        for name in self.policy.reset_headers:
            try:
                waits.append(float(response.headers.get(name, "")))
            except ValueError:
                pass
        return min(max(waits, default=1.0), 120.0) + random.uniform(0, 0.25)

    def _backoff(self, attempt: int, why: str) -> None:
        delay = min(self.max_backoff, self.backoff * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
        log.warning("%s: retry %d/%d in %.1fs", redact(why), attempt, self.max_retries, delay)
        self.pacer.sleep(delay)

    def _access_error(self, response: requests.Response, endpoint: str) -> CrmEltError:
        api, key = self.policy.api, self.policy.credential_key
        status = response.status_code
        if status == 403 and "cloudflare" in response.text.lower():
            wait = response.headers.get("Retry-After", "")
            until = ((datetime.now(timezone.utc) + timedelta(seconds=float(wait))).strftime("%H:%M:%S UTC")
                     if wait.replace(".", "", 1).isdigit() else None)
            return BudgetExhausted(f"{api} blocked this token after too many requests (403 from Cloudflare) "
                                   f"{f'until about {until}' if until else 'for a few minutes (it does not say how long)'}; "
                                   "already loaded tables are kept, run again then")
        if status == 401:
            return ConfigError(f"{api} rejected the credentials (401 Unauthorized): check {key}")
        if status == 402:
            return ConfigError(f"{api} requires payment (402 Payment Required): the account's plan or "
                               "subscription does not allow this API call")
        return AccessDenied(f"{api} denied access (403 Forbidden)", redact(endpoint),
                            f"give the user of {key} the permission to read it, or use an admin's token "
                            "(it reads every table)")


def _snippet(response: requests.Response) -> str:
    return " ".join(response.text[:200].split())


def _count(value: str | None) -> int | None:
    """A header's whole number (``x-ratelimit-remaining: 7``), or None."""
    value = (value or "").strip()
    return int(value) if value.isdigit() else None


# --- factories ---------------------------------------------------------------------------------


def _pipedrive_budget_exhausted(response: requests.Response) -> bool:
    if response.headers.get("x-daily-requests-left") == "0":
        return True
    return "daily" in response.text.lower()


def pipedrive_client(base_url: str, api_token: str, *, burst: int | None = None, window: float = 2.0,
                     clock: Callable[[], float] = time.monotonic,
                     sleep: Callable[[float], None] = time.sleep, **kw: Any) -> ApiClient:
    policy = ErrorPolicy(
        api="Pipedrive",
        credential_key="sources.pipedrive.api_token (SOURCES__PIPEDRIVE__API_TOKEN)",
        location_key="sources.pipedrive.company_domain / base_url",
        is_budget_exhausted=_pipedrive_budget_exhausted,
        reset_headers=("Retry-After", "x-ratelimit-reset"),
        limit_header="x-ratelimit-limit",
        remaining_header="x-ratelimit-remaining",
        budget_header="x-daily-requests-left",
        slow_down="another integration may share this token's burst: set sources.pipedrive.rate_limit_burst below "
                  "your plan's to leave it room, and retry later",
    )
    # ``burst``: rate_limit_burst, an optional cap. The burst is learned from x-ratelimit-limit; until the
    # first answer the entry plan's 20 (or the cap when lower); a server that never says: the cap, or 20
    pacer = Pacer(min(burst or ENTRY_BURST, ENTRY_BURST), window, clock, sleep, cap=burst or None,
                  fallback=burst or ENTRY_BURST)
    return ApiClient(base_url, policy, pacer, headers={"x-api-token": api_token}, **kw)


def hotprofile_client(url_instance: str, api_key: str, *, calls: int = 100, window: float = 60.0,
                      clock: Callable[[], float] = time.monotonic,
                      sleep: Callable[[float], None] = time.sleep, **kw: Any) -> ApiClient:
    policy = ErrorPolicy(
        api="HotProfile",
        credential_key="sources.hotprofile.api_key (SOURCES__HOTPROFILE__API_KEY)",
        location_key="sources.hotprofile.url_instance",
        slow_down="another client may share this API key's limit; retry later",
    )
    return ApiClient(url_instance, policy, Pacer(calls, window, clock, sleep),
                     params={"api_key": api_key}, **kw)
