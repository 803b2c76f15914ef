"""Local emulator of the HotProfile REST API (clients, leads, business cards).

    from sandbox.hotprofile import HotProfileSandbox
    with HotProfileSandbox(seed=1, clients=300, leads=600, business_cards=300) as sb:
        requests.post(f"{sb.url_instance}/rest_api/v1/clients/get_entry_list_flow",
                      params={"api_key": sb.api_key, "page[display_number]": 1000})

See app.py for the HTTP behaviour and data.py for the data and mutations.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from sandbox._server import Emulator, EmulatorServer

from .app import PREFIX, TABLES as TABLE_CONFIG, HotProfileApp
from .data import FIELDS, FLAG_OFF, FLAG_ON, JST, SPEC_ARTIFACT_FIELDS, TABLES, TS_FMT, Store

__all__ = ["HotProfileSandbox", "JST", "TABLES", "FIELDS", "TS_FMT", "FLAG_ON", "FLAG_OFF", "PAGE_CAPS",
           "SPEC_ARTIFACT_FIELDS"]

PAGE_CAPS = {name: cfg.cap for name, cfg in TABLE_CONFIG.items()}


class HotProfileSandbox(Emulator):
    def __init__(self, seed: int = 1, clients: int = 300, leads: int = 600, business_cards: int = 300,
                 api_key: str = "sandbox-key", rate: tuple[int, float] | None = (100, 60.0),
                 start: datetime | None = None, host: str = "127.0.0.1", port: int = 0,
                 page_cap: dict[str, int] | None = None, lost_rows: dict[str, int] | None = None) -> None:
        """Faults (also settable later as ``sb.page_cap`` / ``sb.lost_rows``): ``page_cap={"clients": 25}``
        serves at most 25 rows a page whatever page[display_number] asks (``pages`` stays truthful:
        ``display_number`` 25, ``total_number`` at 25 a page); ``lost_rows={"clients": 35}`` never serves
        the last 35 rows of an answer (in the order asked: from ``search[from_id]`` on, after the filters)
        yet counts them in ``total_count`` / ``total_number`` (a server whose pages end early)."""
        self.seed = seed
        self.api_key = api_key
        self.store = Store(seed, {"clients": clients, "leads": leads, "business_cards": business_cards}, start)
        self.app = HotProfileApp(self.store, api_key, rate, page_cap, lost_rows)
        self.server = EmulatorServer(self.app, host, port)

    @property
    def url_instance(self) -> str:
        """``http://127.0.0.1:PORT``; the client appends ``/rest_api/v1/...``."""
        return self.server.url

    @property
    def base_url(self) -> str:
        return self.server.url + PREFIX

    # -- rate limit ----------------------------------------------------------------------------------
    @property
    def rate(self) -> tuple[int, float] | None:
        return self.app.rate

    @rate.setter
    def rate(self, value: tuple[int, float] | None) -> None:
        self.app.rate = value

    def reset_rate_limit(self) -> None:
        self.app.limiter.reset()

    # -- faults --------------------------------------------------------------------------------------
    @property
    def page_cap(self) -> dict[str, int]:
        return self.app.page_cap

    @page_cap.setter
    def page_cap(self, value: dict[str, int] | None) -> None:
        self.app.page_cap = dict(value or {})

    @property
    def lost_rows(self) -> dict[str, int]:
        return self.app.lost_rows

    @lost_rows.setter
    def lost_rows(self, value: dict[str, int] | None) -> None:
        self.app.lost_rows = dict(value or {})

    # -- clock ---------------------------------------------------------------------------------------
    @property
    def clock(self) -> datetime:
        """Logical now: aware datetime in Asia/Tokyo (+09:00), second precision."""
        return self.store.clock

    @property
    def clock_str(self) -> str:
        """The clock as the API formats timestamps: ``yyyy/mm/dd HH:MM:SS`` (JST, naive)."""
        return self.store.now

    def tick(self, seconds: float | None = None, **kw: float) -> datetime:
        """Advance the clock: ``tick()`` = 1 s; ``tick(30)``; ``tick(hours=2)`` (timedelta keywords)."""
        return self.store.tick(seconds, **kw)

    # -- data ----------------------------------------------------------------------------------------
    def mutate(self, seed: int | None = None, updates: int = 20, inserts: int = 5, deletes: int = 3,
               merges: int = 1, same_second: int = 0, tables: Any = None) -> dict[str, dict[str, list]]:
        return self.store.mutate(seed=seed, updates=updates, inserts=inserts, deletes=deletes, merges=merges,
                                 same_second=same_second, tables=tables)
    mutate.__doc__ = Store.mutate.__doc__

    def update(self, table: str, id: int, **fields: Any) -> dict[str, Any]:
        """Set fields; ``updated_at`` = clock unless given. Returns the (live) row."""
        return self.store.update(table, id, **fields)

    def patch(self, table: str, id: int, **fields: Any) -> dict[str, Any]:
        """Set fields exactly as given, unchecked: undocumented fields and values of another type than
        the spec's (what a real tenant may send). ``updated_at`` = clock unless given; returns the row."""
        return self.store.update(table, id, strict=False, **fields)

    def insert(self, table: str, **fields: Any) -> int:
        """A generated row (created_at = updated_at = clock) overridden by ``fields``; returns its id."""
        return self.store.insert(table, **fields)

    def delete(self, table: str, id: int) -> None:
        self.store.delete(table, id)

    def expected(self, table: str) -> list[dict[str, Any]]:
        """Current rows, ordered by id, exactly as the API serves them (deep copies)."""
        return self.store.expected(table)

    def ids(self, table: str) -> list[int]:
        self.store.check_table(table)
        with self.store.lock:
            return list(self.store.ids[table])

    def on_page(self, callback: Callable[[str, int], Any] | None) -> None:
        """Call ``callback(table, page_number)`` before serving each (valid, authorized) page
        request; ``None`` removes all callbacks."""
        if callback is None:
            self.app.page_hooks.clear()
        else:
            self.app.page_hooks.append(callback)
