"""The shared shell of the vendor fakes: a real HTTP server on 127.0.0.1 that records every
request and can be told to fail the next ones (status, headers, the vendor's real error body).

Each vendor fake subclasses `FakeVendor` and implements `handle(request) -> Answer`. The fakes
check what the real vendor checks with their own code (never the vendor's library, which the
product uses: a shared bug would pass both sides).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    status: int = 0
    #: When the request arrived (wall clock, Unix seconds): what `bench/paging_latency.py` reads.
    at: float = field(default_factory=time.time)

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))


@dataclass
class Answer:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, data: Any, headers: Mapping[str, str] | None = None) -> Answer:
        return cls(
            status,
            json.dumps(data).encode(),
            {"Content-Type": "application/json; charset=utf-8", **(headers or {})},
        )


class FakeVendor:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.failures: list[Answer] = []
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- to override ---------------------------------------------------------------------------
    def handle(self, request: Request) -> Answer:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- plumbing ------------------------------------------------------------------------------
    def fail_next(self, answer: Answer, count: int = 1) -> None:
        with self.lock:
            self.failures.extend([answer] * count)

    def start(self) -> FakeVendor:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _any(self) -> None:
                fake._serve(self)

            do_GET = do_POST = do_PUT = _any

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
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        req = Request(
            h.command,
            parts.path,
            dict(parse_qsl(parts.query)),
            {k.lower(): v for k, v in h.headers.items()},
            h.rfile.read(length) if length else b"",
        )
        with self.lock:
            self.requests.append(req)
            failure = self.failures.pop(0) if self.failures else None
        answer = failure or self.handle(req)
        req.status = answer.status
        h.send_response(answer.status)
        for k, v in answer.headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(answer.body)))
        h.end_headers()
        if answer.body:
            h.wfile.write(answer.body)
