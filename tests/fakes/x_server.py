"""X API v2 recent search on loopback (platforms.md §4).

- `GET /2/tweets/search/recent` with `Authorization: Bearer <token>`; a wrong one is 401
  `{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}`.
- Reverse-chronological; `since_id`, `start_time`, `max_results` 10–100; `next_token` (also
  accepted as `pagination_token`) is replayable and pages within the result set fixed by the
  first page. `meta.newest_id`/`oldest_id` describe **this page** (the trap: only the first
  page's newest_id is the next since_id). No match: `{"meta":{"result_count":0}}`, no `data`.
- Authors under `includes.users` with `public_metrics`; text escapes `&`, `<`, `>` as entities.
- Headers `x-rate-limit-limit/-remaining/-reset` (Unix seconds, 15-minute window); a 429 body is
  `{"title":"Too Many Requests","type":"about:blank","status":429,"detail":"Too Many Requests"}`.
"""

from __future__ import annotations

import zlib
from datetime import datetime
from typing import Any

from tests.fakes.platform import Answer, PlatformFake, Request, js

WINDOW = 900


class XFake(PlatformFake):
    search_paths = ("/2/tweets/search/recent",)

    def __init__(self, prefix: str = "", token: str = "") -> None:
        super().__init__(prefix)
        self.token = token
        self.tweets: list[dict[str, Any]] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.used = 0
        self._n = 0

    def add(
        self,
        text: str,
        *,
        at: datetime,
        username: str = "jdoe",
        followers: int = 5120,
        likes: int = 0,
    ) -> str:
        self._n += 1
        tid = str(1830000000000000000 + int(at.timestamp()) * 1000 + self._n)
        uid = str(2244994945 + zlib.crc32(username.encode()) % 10_000_000)
        self.users[uid] = {
            "id": uid,
            "name": username.title(),
            "username": username,
            "verified": False,
            "public_metrics": {
                "followers_count": followers,
                "following_count": 300,
                "tweet_count": 12000,
                "listed_count": 14,
                "like_count": 900,
            },
        }
        escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        self.tweets.append(
            {
                "id": tid,
                "text": escaped,
                "author_id": uid,
                "created_at": at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "lang": "en",
                "conversation_id": tid,
                "edit_history_tweet_ids": [tid],
                "public_metrics": {
                    "retweet_count": 3,
                    "reply_count": 1,
                    "like_count": likes,
                    "quote_count": 0,
                    "bookmark_count": 0,
                    "impression_count": 840,
                },
            }
        )
        return tid

    def _rl(self, remaining: int | None = None) -> dict[str, str]:
        now = int(self.now().timestamp())
        return {
            "x-rate-limit-limit": "450",
            "x-rate-limit-remaining": str(
                max(0, 450 - self.used) if remaining is None else remaining
            ),
            "x-rate-limit-reset": str(now - now % WINDOW + WINDOW),
        }

    def too_many(self, req: Request) -> Answer:
        return js(
            429,
            {
                "title": "Too Many Requests",
                "type": "about:blank",
                "status": 429,
                "detail": "Too Many Requests",
            },
            self._rl(0),
        )

    def unauthorized(self, req: Request) -> Answer:
        return js(
            401,
            {
                "title": "Unauthorized",
                "type": "about:blank",
                "status": 401,
                "detail": "Unauthorized",
            },
        )

    def server_error(self, req: Request) -> Answer:
        return js(
            503,
            {
                "title": "Service Unavailable",
                "type": "about:blank",
                "status": 503,
                "detail": "Service Unavailable",
            },
        )

    def handle(self, req: Request) -> Answer:
        if req.path != "/2/tweets/search/recent":
            return js(404, {"title": "Not Found Error", "type": "about:blank", "status": 404})
        self.used += 1
        if req.headers.get("authorization") != f"Bearer {self.token}":
            return self.unauthorized(req)
        words = [w for w in (req.param("query") or "").lower().split() if not w.startswith("-")]
        found = [t for t in self.tweets if all(w in t["text"].lower() for w in words)]
        if req.param("since_id"):
            found = [t for t in found if int(t["id"]) > int(req.param("since_id") or 0)]
        if req.param("start_time"):
            found = [t for t in found if t["created_at"] >= (req.param("start_time") or "")]
        found.sort(key=lambda t: int(t["id"]), reverse=True)
        token = req.param("next_token") or req.param("pagination_token")
        top, offset = token.split("-") if token else ("", "0")
        if top:
            found = [t for t in found if int(t["id"]) <= int(top)]
        elif found:
            top = found[0]["id"]
        per = max(10, min(int(req.param("max_results") or 10), 100))
        start = int(offset)
        page = found[start : start + per]
        if not page:
            return js(200, {"meta": {"result_count": 0}}, self._rl())
        users = {t["author_id"] for t in page}
        meta: dict[str, Any] = {
            "newest_id": page[0]["id"],
            "oldest_id": page[-1]["id"],
            "result_count": len(page),
        }
        if start + per < len(found):
            meta["next_token"] = f"{top}-{start + per}"
        return js(
            200,
            {"data": page, "includes": {"users": [self.users[u] for u in users]}, "meta": meta},
            self._rl(),
        )
