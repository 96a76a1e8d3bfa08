"""A loopback HTTP server that records every request (method, path, JSON body) and answers 200:
a webhook receiver, or a healthchecks.io-style ping endpoint (`/ping/<uuid>` and `/fail`)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    body: Any


class Recorder:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        #: Seconds the next request waits before it is answered (a slow receiver), then 0.
        self.delay_next = 0.0
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    def url(self, path: str) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}{path}"

    def start(self) -> Recorder:
        rec = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body: Any = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                with rec._lock:
                    rec.requests.append(Recorded(self.command, self.path, body))
                    delay, rec.delay_next = rec.delay_next, 0.0
                if delay:
                    time.sleep(delay)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"OK")

            do_GET = do_POST = do_HEAD = _handle

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()

    def paths(self, prefix: str = "") -> list[str]:
        with self._lock:
            return [r.path for r in self.requests if r.path.startswith(prefix)]

    def bodies(self, prefix: str) -> list[Any]:
        with self._lock:
            return [r.body for r in self.requests if r.path.startswith(prefix)]
