"""A Bluesky PDS on loopback (platforms.md §2): app-password sessions and `searchPosts`.

- `createSession` takes `{"identifier","password"}`; a wrong one is 401
  `{"error":"AuthenticationRequired","message":"Invalid identifier or password"}`.
  `refreshSession` takes the refresh token as Bearer.
- `searchPosts` without Authorization is the public host's blocking answer: a bare 403 HTML page.
  An expired access token is **HTTP 400** `{"error":"ExpiredToken","message":"Token has expired"}`.
- `sort=latest`, `since` (inclusive) compared against sortAt = min(createdAt, indexedAt), limit
  1–100 (default 25), an opaque `cursor`.
- Headers `RateLimit-Limit/-Remaining/-Reset` (Unix seconds) and `RateLimit-Policy: 3000;w=300`;
  a 429 body is `{"error":"RateLimitExceeded","message":"Rate Limit Exceeded"}`.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from tests.fakes.platform import Answer, PlatformFake, Request, js

WINDOW = 300


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


class BlueskyFake(PlatformFake):
    search_paths = ("/xrpc/app.bsky.feed.searchPosts",)

    def __init__(self, prefix: str = "", identifier: str = "", password: str = "") -> None:
        super().__init__(prefix)
        self.identifier, self.password = identifier, password
        self.posts: list[dict[str, Any]] = []
        self.access: set[str] = set()
        self.expired: set[str] = set()
        self.refresh: set[str] = set()
        self.sessions_created = 0
        self.used = 0
        self._n = 0

    def add(
        self,
        text: str,
        *,
        at: datetime,
        handle: str = "jdoe.bsky.social",
        indexed_after: timedelta = timedelta(seconds=2),
        likes: int = 0,
    ) -> str:
        self._n += 1
        rkey = f"3lzq{self._n:06d}"
        uri = f"at://did:plc:abc{self._n}/app.bsky.feed.post/{rkey}"
        self.posts.append(
            {
                "uri": uri,
                "cid": f"bafyrei{self._n}",
                "author": {
                    "did": f"did:plc:abc{self._n}",
                    "handle": handle,
                    "displayName": "J. Doe",
                    "labels": [],
                    "createdAt": "2023-05-01T10:00:00.000Z",
                },
                "record": {
                    "$type": "app.bsky.feed.post",
                    "text": text,
                    "createdAt": _iso(at),
                    "langs": ["en"],
                },
                "replyCount": 2,
                "repostCount": 5,
                "likeCount": likes,
                "quoteCount": 1,
                "bookmarkCount": 0,
                "indexedAt": _iso(at + indexed_after),
                "labels": [],
            }
        )
        return uri

    def expire_tokens(self) -> None:
        """Every access token handed out so far is now expired (about 2 hours later)."""
        self.expired |= self.access

    def _rl(self, remaining: int | None = None) -> dict[str, str]:
        now = int(self.now().timestamp())
        return {
            "RateLimit-Limit": "3000",
            "RateLimit-Remaining": str(
                max(0, 3000 - self.used) if remaining is None else remaining
            ),
            "RateLimit-Reset": str(now - now % WINDOW + WINDOW),
            "RateLimit-Policy": f"3000;w={WINDOW}",
        }

    def too_many(self, req: Request) -> Answer:
        return js(
            429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}, self._rl(0)
        )

    def unauthorized(self, req: Request) -> Answer:
        return js(401, {"error": "AuthenticationRequired", "message": "Invalid token"})

    def server_error(self, req: Request) -> Answer:
        return js(502, {"error": "UpstreamFailure", "message": "Upstream Failure"})

    def _tokens(self) -> dict[str, str]:
        self.sessions_created += 1
        access, refresh = f"access-{self._n}-{len(self.access)}", f"refresh-{len(self.refresh)}"
        self.access.add(access)
        self.refresh.add(refresh)
        return {"accessJwt": access, "refreshJwt": refresh}

    def handle(self, req: Request) -> Answer:
        self.used += 1
        bearer = req.headers.get("authorization", "").removeprefix("Bearer ")
        if req.path == "/xrpc/com.atproto.server.createSession":
            body = json.loads(req.body or b"{}")
            if body.get("identifier") != self.identifier or body.get("password") != self.password:
                return js(
                    401,
                    {
                        "error": "AuthenticationRequired",
                        "message": "Invalid identifier or password",
                    },
                )
            return js(200, {**self._tokens(), "handle": self.identifier, "did": "did:plc:me"})
        if req.path == "/xrpc/com.atproto.server.refreshSession":
            if bearer not in self.refresh:
                return js(400, {"error": "ExpiredToken", "message": "Token has expired"})
            self.refresh.discard(bearer)
            return js(200, {**self._tokens(), "handle": self.identifier, "did": "did:plc:me"})
        if req.path == "/xrpc/app.bsky.feed.searchPosts":
            if not bearer:
                return Answer(
                    403,
                    b"<html><body><h1>403 Forbidden</h1>Request forbidden by administrative rules."
                    b"</body></html>",
                    content_type="text/html",
                )
            if bearer in self.expired:
                return js(400, {"error": "ExpiredToken", "message": "Token has expired"})
            if bearer not in self.access:
                return self.unauthorized(req)
            return self._search(req)
        return js(404, {"error": "MethodNotImplemented", "message": "Method Not Implemented"})

    def _search(self, req: Request) -> Answer:
        q = (req.param("q") or "").lower()
        since = req.param("since")

        def sort_at(p: dict[str, Any]) -> str:
            return min(p["record"]["createdAt"], p["indexedAt"])

        found = [p for p in self.posts if q in p["record"]["text"].lower()]
        if since:
            found = [p for p in found if sort_at(p) >= since]
        found.sort(key=sort_at, reverse=True)
        limit = max(1, min(int(req.param("limit") or 25), 100))
        offset = int(req.param("cursor") or 0)
        page = found[offset : offset + limit]
        data: dict[str, Any] = {"hitsTotal": len(found), "posts": page}
        if offset + limit < len(found):
            data["cursor"] = str(offset + limit)
        return js(200, data, self._rl())
