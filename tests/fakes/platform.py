"""The shared machinery of the loopback platform fakes: a real HTTP server on 127.0.0.1, a
request log, a settable clock (sent as `Date`, and used for rate-limit reset headers) and
scripted faults on the platform's search endpoint.

    fake = MastodonFake().start()
    fake.fault("429", after=1)       # the 2nd search request answers the platform's own 429
    fake.fault("malformed")          # a 200 whose body is not what the contract says
    fake.stop()

Each platform module subclasses `PlatformFake` and answers by its documented contract
(../shared/platforms.md), including its exact 429 and auth-failure answers.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    status: int = 0

    def param(self, name: str) -> str | None:
        values = self.params.get(name)
        return values[0] if values else None


@dataclass
class Answer:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=utf-8"


def js(status: int, data: Any, headers: Mapping[str, str] | None = None) -> Answer:
    return Answer(status, json.dumps(data).encode(), dict(headers or {}))


@dataclass
class _Fault:
    kind: str
    after: int
    count: int


class PlatformFake:
    """Subclasses set `search_paths` (path suffixes that faults apply to) and implement
    `handle(req) -> Answer` plus `too_many(req)`, `server_error(req)`, `malformed(req)`,
    `unauthorized(req)`."""

    search_paths: tuple[str, ...] = ()

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix.rstrip("/")
        self.requests: list[Request] = []
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self._faults: list[_Fault] = []
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._search_count = 0

    # --- control ------------------------------------------------------------------------

    def start(self) -> Any:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._dispatch(self, "GET")

            def do_POST(self) -> None:
                fake._dispatch(self, "POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.prefix}"

    def fault(self, kind: str, *, after: int = 0, count: int = 1) -> None:
        """The search request number `after`+1 (counting from now) and the `count`-1 after it
        answer `kind`: "429", "500", "malformed" or "auth"."""
        with self._lock:
            self._faults.append(_Fault(kind, self._search_count + after, count))

    def searches(self) -> list[Request]:
        return [r for r in self.requests if self._is_search(r.path)]

    def now(self) -> datetime:
        return self.clock()

    # --- serving ------------------------------------------------------------------------

    def _is_search(self, path: str) -> bool:
        return any(path.endswith(p) or p in path for p in self.search_paths)

    def _dispatch(self, h: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        path = parts.path
        req = Request(
            method,
            path.removeprefix(self.prefix) if self.prefix else path,
            parse_qs(parts.query, keep_blank_values=True),
            {k.lower(): v for k, v in h.headers.items()},
            body,
        )
        with self._lock:
            self.requests.append(req)
            fault = None
            if path.startswith(self.prefix) and self._is_search(req.path):
                n = self._search_count
                self._search_count += 1
                for f in self._faults:
                    if f.after <= n < f.after + f.count:
                        fault = f.kind
                        break
            try:
                if not path.startswith(self.prefix):
                    answer = js(404, {"error": "not found"})
                elif fault == "429":
                    answer = self.too_many(req)
                elif fault == "500":
                    answer = self.server_error(req)
                elif fault == "malformed":
                    answer = self.malformed(req)
                elif fault == "auth":
                    answer = self.unauthorized(req)
                else:
                    answer = self.handle(req)
            except Exception as exc:  # a bug in the fake shows as a 599, not a hang
                answer = Answer(599, repr(exc).encode(), content_type="text/plain")
        req.status = answer.status
        h.send_response(answer.status)
        h.send_header("Date", format_datetime(self.now(), usegmt=True))
        h.send_header("Content-Type", answer.content_type)
        for k, v in answer.headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(answer.body)))
        h.end_headers()
        h.wfile.write(answer.body)

    # --- to override ----------------------------------------------------------------------

    def handle(self, req: Request) -> Answer:
        raise NotImplementedError

    def too_many(self, req: Request) -> Answer:
        raise NotImplementedError

    def unauthorized(self, req: Request) -> Answer:
        raise NotImplementedError

    def server_error(self, req: Request) -> Answer:
        return js(503, {"error": "Service Unavailable"})

    def malformed(self, req: Request) -> Answer:
        return Answer(200, b'{"truncated": [', content_type="application/json; charset=utf-8")
