"""Rolling-window burst limiter (with a Cloudflare-style ban for hammering) and daily token budget."""
from __future__ import annotations

import math
import time
from collections import deque
from datetime import datetime, timedelta, timezone

CLOUDFLARE_HTML = """<!DOCTYPE html>
<html lang="en-US"><head><title>Access denied | api.pipedrive.com used Cloudflare to restrict access</title>
<meta charset="UTF-8"></head>
<body><div id="cf-wrapper"><div id="cf-error-details" class="cf-error-details-wrapper">
<h1><span class="cf-error-type">Error</span> <span class="cf-error-code">1015</span></h1>
<h2 class="cf-subheadline">You are being rate limited</h2>
<p>The owner of this website (api.pipedrive.com) has banned you temporarily from accessing this website.</p>
<span class="cf-footer-item">Cloudflare Ray ID: <strong>sandbox</strong></span>
</div></div></body></html>
"""

BAN_AFTER_REJECTIONS = 5


class BurstLimiter:
    """At most ``burst`` accepted requests within any ``window`` seconds.

    ``check()`` returns ("ok" | "limited" | "banned", headers). A client that collects
    ``BAN_AFTER_REJECTIONS`` 429s within one window is banned (403 HTML) for the next window.
    """

    def __init__(self, burst: int, window: float, clock=time.monotonic):
        self.burst, self.window, self.now = burst, window, clock
        self.accepted: deque[float] = deque()
        self.rejected: deque[float] = deque()
        self.banned_until = 0.0
        self.limited_total = 0          # 429s served (tests assert a well-paced client gets none)

    def reset(self) -> None:
        self.accepted.clear()
        self.rejected.clear()
        self.banned_until = 0.0

    def _prune(self, now: float) -> None:
        while self.accepted and self.accepted[0] <= now - self.window:
            self.accepted.popleft()
        while self.rejected and self.rejected[0] <= now - self.window:
            self.rejected.popleft()

    def _reset_in(self, now: float) -> int:
        if not self.accepted:
            return 0
        return max(0, math.ceil(self.accepted[0] + self.window - now))

    def headers(self, now: float | None = None) -> dict[str, str]:
        now = self.now() if now is None else now
        self._prune(now)
        return {"x-ratelimit-limit": str(self.burst),
                "x-ratelimit-remaining": str(max(0, self.burst - len(self.accepted))),
                "x-ratelimit-reset": str(self._reset_in(now))}

    def reject(self, now: float | None = None) -> None:
        """A 429 sent (burst or daily budget): a client that collects too many in a window is banned."""
        now = self.now() if now is None else now
        self._prune(now)
        self.rejected.append(now)
        self.limited_total += 1
        if len(self.rejected) >= BAN_AFTER_REJECTIONS:
            self.banned_until = now + self.window
            self.rejected.clear()

    def check(self) -> tuple[str, dict[str, str]]:
        now = self.now()
        if now < self.banned_until:
            return "banned", {"Content-Type": "text/html; charset=UTF-8", "Server": "cloudflare",
                              "cf-ray": "sandbox-ban"}
        self._prune(now)
        if len(self.accepted) >= self.burst:
            self.reject(now)
            headers = self.headers(now)
            headers["Retry-After"] = str(max(1, int(headers["x-ratelimit-reset"])))
            return "limited", headers
        self.accepted.append(now)
        return "ok", self.headers(now)


class TokenBudget:
    """Daily token budget (resets at real UTC midnight); ``None`` = unlimited."""

    def __init__(self, daily_budget: int | None):
        self.daily_budget = daily_budget
        self.day = datetime.now(timezone.utc).date()
        self.spent_today = 0
        self.spent_total = 0
        self.by_path: dict[str, int] = {}

    def _roll(self) -> None:
        today = datetime.now(timezone.utc).date()
        if today != self.day:
            self.day, self.spent_today = today, 0

    def allows(self, cost: int) -> bool:
        self._roll()
        return self.daily_budget is None or self.spent_today + cost <= self.daily_budget

    def charge(self, path: str, cost: int) -> None:
        self._roll()
        self.spent_today += cost
        self.spent_total += cost
        self.by_path[path] = self.by_path.get(path, 0) + cost

    def left(self) -> int | None:
        self._roll()
        return None if self.daily_budget is None else max(0, self.daily_budget - self.spent_today)

    @staticmethod
    def seconds_to_midnight() -> int:
        now = datetime.now(timezone.utc)
        midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return max(1, math.ceil((midnight - now).total_seconds()))
