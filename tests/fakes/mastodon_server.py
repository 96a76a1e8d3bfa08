"""A Mastodon instance on loopback (platforms.md §1): hashtag timelines and status search.

- Statuses come back newest first; `min_id` returns the statuses immediately newer than it
  (fetched ascending, then reversed, as Mastodon's paginable concern does), `max_id`/`since_id`
  the newest below/above. `limit` defaults to 20, at most 40.
- Timelines carry a `Link` header (`rel="next"` max_id, `rel="prev"` min_id), omitted when the
  page is empty; search has none. Status search needs a user token.
- Every answer has `X-RateLimit-Limit/-Remaining/-Reset`, the reset an ISO 8601 time with
  microseconds; a 429 has `X-RateLimit-Remaining: 0`, no Retry-After and
  `{"error":"Too many requests"}`. A bad token: 401 `{"error":"The access token is invalid"}`.
- Ids are time-based like Mastodon's: milliseconds since the epoch << 16, plus a sequence.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.fakes.platform import Answer, PlatformFake, Request, js

WINDOW = timedelta(minutes=5)


def iso_micro(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class MastodonFake(PlatformFake):
    search_paths = ("/api/v1/timelines/tag/", "/api/v2/search")

    def __init__(self, prefix: str = "", token: str | None = None) -> None:
        super().__init__(prefix)
        self.token = token  # when set, requests must carry it (and search always needs one)
        self.statuses: list[dict[str, Any]] = []
        self.limit = 300
        self.used = 0
        self._seq = 0

    def add(
        self,
        text_html: str,
        *,
        at: datetime,
        tags: tuple[str, ...] = ("lumio",),
        acct: str = "jdoe@other.example",
        followers: int = 100,
        favourites: int = 0,
    ) -> str:
        self._seq += 1
        sid = str((int(at.timestamp() * 1000) << 16) + self._seq)
        self.statuses.append(
            {
                "id": sid,
                "created_at": at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "in_reply_to_id": None,
                "in_reply_to_account_id": None,
                "sensitive": False,
                "spoiler_text": "",
                "visibility": "public",
                "language": "en",
                "uri": f"https://other.example/users/{acct.split('@')[0]}/statuses/{sid}",
                "url": f"https://other.example/@{acct.split('@')[0]}/{sid}",
                "replies_count": 1,
                "reblogs_count": 2,
                "favourites_count": favourites,
                "quotes_count": 0,
                "edited_at": None,
                "content": text_html,
                "reblog": None,
                "quote": None,
                "mentions": [],
                "tags": [{"name": t, "url": f"https://social.example/tags/{t}"} for t in tags],
                "media_attachments": [],
                "emojis": [],
                "card": None,
                "poll": None,
                "account": {
                    "id": "4242",
                    "username": acct.split("@")[0],
                    "acct": acct,
                    "display_name": "J. Doe",
                    "url": f"https://other.example/@{acct.split('@')[0]}",
                    "bot": False,
                    "discoverable": True,
                    "indexable": True,
                    "created_at": "2022-11-05T00:00:00.000Z",
                    "followers_count": followers,
                    "following_count": 10,
                    "statuses_count": 100,
                },
            }
        )
        return sid

    def _rl(self, remaining: int | None = None) -> dict[str, str]:
        now = self.now()
        reset = now - timedelta(seconds=now.timestamp() % WINDOW.total_seconds()) + WINDOW
        left = max(0, self.limit - self.used) if remaining is None else remaining
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(left),
            "X-RateLimit-Reset": iso_micro(reset),
        }

    def too_many(self, req: Request) -> Answer:
        return js(429, {"error": "Too many requests"}, self._rl(remaining=0))

    def unauthorized(self, req: Request) -> Answer:
        return js(401, {"error": "The access token is invalid"})

    def _authorized(self, req: Request) -> bool:
        return req.headers.get("authorization") == f"Bearer {self.token}"

    def handle(self, req: Request) -> Answer:
        self.used += 1
        if req.path.startswith("/api/v1/timelines/tag/"):
            if self.token and not self._authorized(req):
                return self.unauthorized(req)
            tag = req.path.rsplit("/", 1)[-1].lower()
            found = [s for s in self.statuses if tag in (t["name"].lower() for t in s["tags"])]
            page = self._page(found, req)
            headers = self._rl()
            if page:
                base = f"{self.base_url}{req.path}"
                limit = req.param("limit") or "20"
                headers["Link"] = (
                    f'<{base}?limit={limit}&max_id={page[-1]["id"]}>; rel="next", '
                    f'<{base}?limit={limit}&min_id={page[0]["id"]}>; rel="prev"'
                )
            return js(200, page, headers)
        if req.path == "/api/v2/search":
            if not self._authorized(req):
                if req.headers.get("authorization"):
                    return self.unauthorized(req)
                # Without a token, statuses are simply not searched.
                return js(200, {"accounts": [], "statuses": [], "hashtags": []}, self._rl())
            q = (req.param("q") or "").lower()
            found = [s for s in self.statuses if q in s["content"].lower()]
            return js(
                200,
                {"accounts": [], "statuses": self._page(found, req), "hashtags": []},
                self._rl(),
            )
        return js(404, {"error": "Record not found"})

    def _page(self, found: list[dict[str, Any]], req: Request) -> list[dict[str, Any]]:
        limit = min(int(req.param("limit") or 20), 40)
        asc = sorted(found, key=lambda s: int(s["id"]))
        if req.param("min_id"):
            m = int(req.param("min_id") or 0)
            return list(reversed([s for s in asc if int(s["id"]) > m][:limit]))
        desc = list(reversed(asc))
        if req.param("max_id"):
            desc = [s for s in desc if int(s["id"]) < int(req.param("max_id") or 0)]
        if req.param("since_id"):
            desc = [s for s in desc if int(s["id"]) > int(req.param("since_id") or 0)]
        return desc[:limit]
