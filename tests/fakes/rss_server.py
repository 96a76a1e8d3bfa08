"""A real HTTP server on 127.0.0.1 that serves RSS/Atom feeds by the contract in
../shared/platforms.md §7: strong ETags from the body, Last-Modified, If-None-Match before
If-Modified-Since, 304 with an empty body, redirects, 410, and 429/503 with Retry-After.

    server = RSSServer(); server.start()
    server.set_feed("/acme.xml", rss_feed([{"title": "…", "guid": "1", "pubDate": dt}]))
    url = server.url("/acme.xml")
    server.fail_next("/acme.xml", 429, {"Retry-After": "120"})
    server.stop()
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from xml.sax.saxutils import escape, quoteattr


@dataclass
class _Feed:
    body: bytes
    content_type: str
    modified: datetime
    etag: str


@dataclass
class _Failure:
    status: int
    headers: dict[str, str]
    count: int


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    status: int = 0


@dataclass
class RSSServer:
    feeds: dict[str, _Feed] = field(default_factory=dict)
    failures: dict[str, _Failure] = field(default_factory=dict)
    redirects: dict[str, tuple[int, str]] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)
    requests: list[Request] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def set_feed(
        self,
        path: str,
        body: bytes,
        content_type: str = "application/rss+xml",
        modified: datetime | None = None,
    ) -> None:
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        with self._lock:
            self.feeds[path] = _Feed(
                body, content_type, (modified or datetime.now(UTC)).replace(microsecond=0), etag
            )

    def fail_next(
        self, path: str, status: int, headers: Mapping[str, str] | None = None, count: int = 1
    ) -> None:
        with self._lock:
            self.failures[path] = _Failure(status, dict(headers or {}), count)

    def redirect(self, path: str, to: str, status: int = 301) -> None:
        self.redirects[path] = (status, to)

    def start(self) -> RSSServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                server._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def url(self, path: str) -> str:
        assert self._server is not None, "start() the server first"
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def _send(
        self,
        h: BaseHTTPRequestHandler,
        req: Request,
        status: int,
        headers: Mapping[str, str],
        body: bytes = b"",
    ) -> None:
        req.status = status
        h.send_response(status)
        h.send_header("Date", format_datetime(datetime.now(UTC), usegmt=True))
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if body:
            h.wfile.write(body)

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        path = h.path.split("?", 1)[0]
        req = Request(h.path, {k: v for k, v in h.headers.items()})
        with self._lock:
            self.requests.append(req)
            failure = self.failures.get(path)
            if failure:
                failure.count -= 1
                if failure.count <= 0:
                    del self.failures[path]
            feed = self.feeds.get(path)
        if failure:
            body = b"rate limited" if failure.status == 429 else b"error"
            self._send(
                h, req, failure.status, {"Content-Type": "text/plain", **failure.headers}, body
            )
            return
        if path in self.redirects:
            status, to = self.redirects[path]
            self._send(h, req, status, {"Location": to})
            return
        if path in self.gone:
            self._send(h, req, 410, {"Content-Type": "text/plain"}, b"gone")
            return
        if feed is None:
            self._send(h, req, 404, {"Content-Type": "text/plain"}, b"not found")
            return
        validators = {
            "ETag": feed.etag,
            "Last-Modified": format_datetime(feed.modified, usegmt=True),
            "Cache-Control": "max-age=300",
        }
        inm = h.headers.get("If-None-Match")
        ims = h.headers.get("If-Modified-Since")
        if inm is not None:
            # RFC 9110 §13.1.2: weak comparison; If-Modified-Since is ignored when this is present.
            tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
            if feed.etag in tags or "*" in tags:
                self._send(h, req, 304, validators)
                return
        elif ims is not None:
            try:
                if feed.modified <= parsedate_to_datetime(ims):
                    self._send(h, req, 304, validators)
                    return
            except (TypeError, ValueError):
                pass
        self._send(
            h,
            req,
            200,
            {"Content-Type": f"{feed.content_type}; charset=utf-8", **validators},
            feed.body,
        )


def _text(tag: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = format_datetime(value.astimezone(UTC), usegmt=True)
    return f"<{tag}>{escape(str(value))}</{tag}>"


def rss_feed(items: Sequence[Mapping[str, Any]], *, title: str = "Feed") -> bytes:
    """An RSS 2.0 document; item keys: title, link, guid, pubDate (datetime), description, author,
    source ({"url", "name"})."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>',
        _text("title", title),
        "<link>http://127.0.0.1/</link>",
        _text("description", title),
    ]
    for item in items:
        parts.append("<item>")
        for key in ("title", "link", "description", "author", "pubDate"):
            parts.append(_text(key, item.get(key)))
        if item.get("guid") is not None:
            parts.append(f'<guid isPermaLink="false">{escape(str(item["guid"]))}</guid>')
        if item.get("source"):
            src = item["source"]
            parts.append(f"<source url={quoteattr(src['url'])}>{escape(src['name'])}</source>")
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "".join(parts).encode("utf-8")


def atom_feed(entries: Sequence[Mapping[str, Any]], *, title: str = "Feed") -> bytes:
    """An Atom 1.0 document; entry keys: id, title, link, updated/published (datetime), author, summary."""

    def iso(v: Any) -> str:
        return (
            v.astimezone(UTC).isoformat().replace("+00:00", "Z")
            if isinstance(v, datetime)
            else str(v)
        )

    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">',
        _text("title", title),
        "<id>urn:tocsin:test</id>",
        f"<updated>{iso(datetime.now(UTC))}</updated>",
    ]
    for e in entries:
        parts.append("<entry>")
        parts.append(_text("id", e.get("id")))
        parts.append(_text("title", e.get("title")))
        if e.get("link"):
            parts.append(f'<link rel="alternate" href={quoteattr(e["link"])}/>')
        for key in ("updated", "published"):
            if e.get(key):
                parts.append(f"<{key}>{iso(e[key])}</{key}>")
        if e.get("author"):
            parts.append(f"<author><name>{escape(e['author'])}</name></author>")
        parts.append(_text("summary", e.get("summary")))
        parts.append("</entry>")
    parts.append("</feed>")
    return "".join(parts).encode("utf-8")
