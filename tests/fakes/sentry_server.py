"""A local stand-in for Sentry's ingest API: accepts envelopes on /api/<project>/envelope/ and
records every item (event, transaction, ...) as parsed JSON, as Sentry's relay would receive it."""

from __future__ import annotations

import gzip
import json
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class SentryServer:
    def __init__(self) -> None:
        self.items: list[tuple[dict[str, Any], Any]] = []
        self.raw: list[bytes] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self._httpd is not None
        return int(self._httpd.server_address[1])

    def dsn(self, project: int = 1) -> str:
        return f"http://publickey@127.0.0.1:{self.port}/{project}"

    def start(self) -> SentryServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                encoding = (self.headers.get("Content-Encoding") or "").lower()
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                elif encoding == "br":
                    import brotli  # type: ignore[import-not-found]

                    body = brotli.decompress(body)
                server._record(self.path, body)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"id": "0"}')

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()

    def _record(self, path: str, body: bytes) -> None:
        with self._lock:
            self.raw.append(body)
            if not path.endswith("/envelope/"):
                return
            lines = body.split(b"\n")
            i = 1  # line 0 is the envelope header
            while i < len(lines):
                if not lines[i].strip():
                    i += 1
                    continue
                header = json.loads(lines[i])
                length = header.get("length")
                if length is not None:
                    rest = b"\n".join(lines[i + 1 :])
                    payload, remainder = rest[:length], rest[length + 1 :]
                    lines = [b"", *remainder.split(b"\n")]
                    i = 1
                else:
                    payload = lines[i + 1] if i + 1 < len(lines) else b""
                    i += 2
                try:
                    self.items.append((header, json.loads(payload)))
                except ValueError:
                    self.items.append((header, payload.decode("utf-8", "replace")))

    def of_type(self, kind: str) -> list[Any]:
        with self._lock:
            return [p for h, p in self.items if h.get("type") == kind]
