"""Apple's public customer-reviews feed on loopback (platforms.md §8 A):
`/{country}/rss/customerreviews/page={n}/id={app}/sortby=mostRecent/json`.

Pages 1–10 of `page_size` reviews, newest first. The trap: `feed.entry` is a list, **a single
object when there is exactly one review**, and absent when there are none. No auth, no
rate-limit contract (a 429 here is a guess: plain text with Retry-After).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from tests.fakes.platform import Answer, PlatformFake, Request, js

_PATH = re.compile(r"^/([a-z]{2})/rss/customerreviews/page=(\d+)/id=(\d+)/sortby=mostRecent/json$")


class AppStoreFake(PlatformFake):
    search_paths = ("/rss/customerreviews/",)

    def __init__(self, prefix: str = "", page_size: int = 50) -> None:
        super().__init__(prefix)
        self.page_size = page_size
        self.reviews: dict[str, list[dict[str, Any]]] = {}
        self._n = 11223344556

    def add(
        self,
        app: str,
        title: str,
        content: str,
        *,
        at: datetime,
        rating: int = 1,
        author: str = "jdoe42",
    ) -> str:
        self._n += 1
        rid = str(self._n)
        self.reviews.setdefault(app, []).append(
            {
                "id": {"label": rid},
                "author": {
                    "name": {"label": author},
                    "uri": {"label": "https://itunes.apple.com/us/reviews/id987654"},
                },
                "im:version": {"label": "5.2.1"},
                "im:rating": {"label": str(rating)},
                "title": {"label": title},
                "content": {"label": content, "attributes": {"type": "text"}},
                "link": {
                    "attributes": {
                        "rel": "related",
                        "href": f"https://itunes.apple.com/us/review?id={app}&type=Purple%20Software",
                    }
                },
                "updated": {"label": at.strftime("%Y-%m-%dT%H:%M:%S-00:00")},
            }
        )
        return rid

    def too_many(self, req: Request) -> Answer:
        return Answer(429, b"Too Many Requests", {"Retry-After": "60"}, content_type="text/plain")

    def unauthorized(self, req: Request) -> Answer:
        return Answer(403, b"<html>Forbidden</html>", content_type="text/html")

    def server_error(self, req: Request) -> Answer:
        return Answer(503, b"<html>Service Unavailable</html>", content_type="text/html")

    def handle(self, req: Request) -> Answer:
        m = _PATH.match(req.path)
        if not m:
            return Answer(404, b"<html>Not Found</html>", content_type="text/html")
        page, app = int(m.group(2)), m.group(3)
        if not 1 <= page <= 10:
            return Answer(400, b"<html>Bad Request</html>", content_type="text/html")
        found = sorted(self.reviews.get(app, []), key=lambda r: r["updated"]["label"], reverse=True)
        chunk = found[(page - 1) * self.page_size : page * self.page_size]
        feed: dict[str, Any] = {
            "author": {
                "name": {"label": "iTunes Store"},
                "uri": {"label": "http://www.apple.com/us/itunes/"},
            },
            "title": {"label": "iTunes Store: Customer Reviews"},
        }
        if len(chunk) == 1:
            feed["entry"] = chunk[0]
        elif chunk:
            feed["entry"] = chunk
        return js(200, {"feed": feed})
