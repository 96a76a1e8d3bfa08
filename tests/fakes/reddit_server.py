"""Reddit on loopback (platforms.md §3): the app-only token endpoint and `/search` listings.

One server plays both hosts: `/www/api/v1/access_token` (www.reddit.com) and `/oauth/search`
(oauth.reddit.com).
- The token endpoint takes HTTP Basic client id/secret and `grant_type=client_credentials`; it
  reports a refusal with **HTTP 200** and `{"error": "invalid_grant"}`.
- `/search` needs `Authorization: bearer <token>` (401 `{"message": "Unauthorized", "error":
  401}`), pages newest first with `after=<fullname>`, and escapes `&`, `<`, `>` unless
  `raw_json=1`.
- Headers `X-Ratelimit-Used`, `X-Ratelimit-Remaining` (a float, "99.0") and `X-Ratelimit-Reset`
  (seconds until the 600 s window ends); a 429 is `{"message": "Too Many Requests", "error": 429}`.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from tests.fakes.platform import Answer, PlatformFake, Request, js

WINDOW = 600


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class RedditFake(PlatformFake):
    search_paths = ("/oauth/search",)

    def __init__(self, client_id: str = "", secret: str = "") -> None:
        super().__init__("")
        self.client_id, self.secret = client_id, secret
        self.posts: list[dict[str, Any]] = []
        self.tokens: set[str] = set()
        self.used = 0
        #: 100 queries a minute, averaged over the 10-minute window the headers describe.
        self.limit = 1000
        self._n = 0

    @property
    def oauth_url(self) -> str:
        return self.base_url + "/oauth"

    @property
    def auth_url(self) -> str:
        return self.base_url + "/www"

    def add(
        self,
        title: str,
        selftext: str = "",
        *,
        at: datetime,
        author: str = "throwaway_42",
        score: int = 1,
    ) -> str:
        self._n += 1
        pid = f"1f{self._n:05d}"
        self.posts.append(
            {
                "id": pid,
                "name": f"t3_{pid}",
                "title": title,
                "selftext": selftext,
                "author": author,
                "author_fullname": "t2_9xyz",
                "subreddit": "personalfinance",
                "subreddit_name_prefixed": "r/personalfinance",
                "subreddit_subscribers": 18500000,
                "score": score,
                "ups": score,
                "upvote_ratio": 0.97,
                "num_comments": 3,
                "num_crossposts": 0,
                "created_utc": float(int(at.timestamp())),
                "permalink": f"/r/personalfinance/comments/{pid}/post/",
                "url": "https://example.com/linked-article",
                "over_18": False,
            }
        )
        return pid

    def _rl(self, remaining: float | None = None) -> dict[str, str]:
        now = int(self.now().timestamp())
        left = max(0, self.limit - self.used) if remaining is None else remaining
        return {
            "x-ratelimit-used": str(self.used),
            "x-ratelimit-remaining": f"{float(left):.1f}",
            "x-ratelimit-reset": str(WINDOW - now % WINDOW),
        }

    def too_many(self, req: Request) -> Answer:
        return js(429, {"message": "Too Many Requests", "error": 429}, self._rl(0))

    def unauthorized(self, req: Request) -> Answer:
        return js(401, {"message": "Unauthorized", "error": 401})

    def server_error(self, req: Request) -> Answer:
        return Answer(
            503, b"<html><body>all our servers are busy</body></html>", content_type="text/html"
        )

    def handle(self, req: Request) -> Answer:
        if req.path == "/www/api/v1/access_token":
            basic = req.headers.get("authorization", "").removeprefix("Basic ")
            try:
                user, _, pw = base64.b64decode(basic).decode().partition(":")
            except ValueError:
                user, pw = "", ""
            form = parse_qs(req.body.decode())
            if (user, pw) != (self.client_id, self.secret) or form.get("grant_type") != [
                "client_credentials"
            ]:
                return js(200, {"error": "invalid_grant"})
            token = f"token-{len(self.tokens)}"
            self.tokens.add(token)
            return js(
                200,
                {"access_token": token, "token_type": "bearer", "expires_in": 3600, "scope": "*"},
            )
        if req.path == "/oauth/search":
            self.used += 1
            if req.headers.get("authorization", "").removeprefix("bearer ") not in self.tokens:
                return self.unauthorized(req)
            return self._search(req)
        return js(404, {"message": "Not Found", "error": 404})

    def _search(self, req: Request) -> Answer:
        q = (req.param("q") or "").lower()
        found = [p for p in self.posts if q in p["title"].lower() or q in p["selftext"].lower()]
        found.sort(key=lambda p: (p["created_utc"], p["id"]), reverse=True)
        after = req.param("after")
        if after:
            names = [p["name"] for p in found]
            found = found[names.index(after) + 1 :] if after in names else []
        limit = min(int(req.param("limit") or 25), 100)
        page = found[:limit]
        raw = req.param("raw_json") == "1"
        children = []
        for p in page:
            data = dict(p)
            if not raw:
                data["title"], data["selftext"] = _escape(p["title"]), _escape(p["selftext"])
            children.append({"kind": "t3", "data": data})
        listing = {
            "kind": "Listing",
            "data": {
                "after": page[-1]["name"] if len(found) > limit else None,
                "dist": len(page),
                "modhash": None,
                "geo_filter": "",
                "before": None,
                "children": children,
            },
        }
        return js(200, listing, self._rl())
