"""In-process HTTP server shared by both emulators: request log, fault injection, start/stop.

An emulator is a callable ``app(request) -> Response``; ``EmulatorServer`` serves it on
``127.0.0.1:<free port>`` from a background thread.
"""
from __future__ import annotations

import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlsplit

FAULT_KINDS = ("403", "429", "500", "502", "503", "reset", "slow", "badjson", "html", "stuck_page", "duplicate_rows")


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]          # last value wins; use ``query_lists`` for repeats
    query_lists: dict[str, list[str]]
    headers: dict[str, str]        # lower-cased names
    body: bytes
    time: float

    def arg(self, name: str, default: str | None = None) -> str | None:
        return self.query.get(name, default)


@dataclass
class Response:
    status: int = 200
    body: Any = None               # dict/list -> JSON; str/bytes sent as is
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json_bytes(self.body)


def json_bytes(body: Any) -> bytes:
    """UTF-8 JSON, as the APIs send it; a lone surrogate (``\ud800``) goes out as its JSON escape."""
    try:
        return json.dumps(body, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return json.dumps(body).encode()


@dataclass
class Fault:
    kind: str
    path: str | None = None        # regex matched against the request path
    times: int = 1
    delay: float = 0.0             # seconds, for "slow"
    query: str | None = None       # regex matched against the raw query string (e.g. one deal in deal_ids)


class FaultInjector:
    """Queue of faults consumed by matching requests (first match wins)."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, kind: str, path: str | None = None, times: int = 1, delay: float = 0.0,
            query: str | None = None) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; use one of {FAULT_KINDS}")
        with self._lock:
            self._faults.append(Fault(kind, path, times, delay, query))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, path: str, query: str = "") -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if (fault.times > 0 and (fault.path is None or re.search(fault.path, path))
                        and (fault.query is None or re.search(fault.query, unquote(query)))):
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    return fault
        return None


def _decoded(response: Response) -> Any:
    """A response's JSON body (None when it is not JSON), for the faults that rewrite it."""
    try:
        return json.loads(response.body) if isinstance(response.body, (bytes, str)) else response.body
    except ValueError:
        return None


def stuck_page(request: Request, response: Response) -> Response:
    """A list that never advances: the page asked for points back to itself (v2 ``next_cursor``, v1
    ``next_start``), as a broken API or proxy would."""
    body = _decoded(response)
    more = body.get("additional_data") if isinstance(body, dict) else None
    if not isinstance(more, dict):
        return response
    if more.get("next_cursor") and request.arg("cursor"):
        more["next_cursor"] = request.arg("cursor")
    pagination = more.get("pagination")
    if isinstance(pagination, dict) and pagination.get("more_items_in_collection") and request.arg("start"):
        pagination["next_start"] = int(request.arg("start"))
    return Response(response.status, body, response.headers)


def duplicate_rows(request: Request, response: Response) -> Response:
    """A page that lists some of its rows twice (``data``, or a HotProfile table's list)."""
    body = _decoded(response)
    if not isinstance(body, dict):
        return response
    for key, rows in body.items():
        if isinstance(rows, list) and rows and isinstance(rows[0], dict):
            body[key] = rows + rows[: max(1, len(rows) // 2)]
    return Response(response.status, body, response.headers)


REWRITES = {"stuck_page": stuck_page, "duplicate_rows": duplicate_rows}


def fault_response(fault: Fault) -> Response | None:
    """The canned response of a fault; None for faults handled at socket level."""
    if fault.kind == "429":
        return Response(429, {"success": False, "error": "Too many requests"},
                        {"Retry-After": "1", "x-ratelimit-reset": "1", "x-ratelimit-remaining": "0"})
    if fault.kind == "403":              # a token without the permission (Pipedrive: not an admin)
        return Response(403, {"success": False, "error": "You do not have permissions to perform this action",
                              "errorCode": 403})
    if fault.kind in ("500", "502", "503"):
        return Response(int(fault.kind), {"success": False, "error": "Internal server error"})
    if fault.kind == "badjson":
        return Response(200, b'{"success": true, "data": [', {"Content-Type": "application/json"})
    if fault.kind == "html":
        return Response(200, b"<html><body>Maintenance</body></html>", {"Content-Type": "text/html"})
    return None


class EmulatorServer:
    def __init__(self, app: Callable[[Request], Response], host: str = "127.0.0.1", port: int = 0):
        self.app = app
        self.requests: list[Request] = []
        self.faults = FaultInjector()
        self.latency = 0.0             # seconds added to every response (a WAN round trip, for benchmarks)
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((host, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "EmulatorServer":
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> "EmulatorServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def requests_to(self, pattern: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if re.search(pattern, r.path)]

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def setup(self) -> None:
                super().setup()
                # headers and body go out in two writes: without NODELAY, Nagle + delayed ACK add 40 ms a request
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                lists = parse_qs(parts.query, keep_blank_values=True)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    method=self.command,
                    path=parts.path,
                    query={k: v[-1] for k, v in lists.items()},
                    query_lists=lists,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                    time=time.time(),
                )
                server._record(request)
                fault = server.faults.take(request.path, parts.query)
                if fault and fault.kind == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    self.connection.close()
                    self.close_connection = True
                    return
                if server.latency:
                    time.sleep(server.latency)
                if fault and fault.kind == "slow":
                    time.sleep(fault.delay or 2.0)
                response = (fault_response(fault) if fault else None) or server.app(request)
                if fault and fault.kind in REWRITES:
                    response = REWRITES[fault.kind](request, response)
                payload = response.encode()
                self.send_response(response.status)
                headers = {"Content-Type": "application/json; charset=utf-8", **response.headers}
                for name, value in headers.items():
                    self.send_header(name, str(value))
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

        return Handler


class Emulator:
    """Lifecycle shared by the API emulators: ``with emulator:`` serves ``emulator.server``."""

    server: EmulatorServer
    _running = False

    def start(self):  # -> Self
        if not self._running:
            self.server.start()
            self._running = True
        return self

    def stop(self) -> None:
        """Stop serving and free the port (safe if never started)."""
        if self._running:
            self._running = False
            self.server.stop()
        else:
            self.server._httpd.server_close()

    def __enter__(self):  # -> Self
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
