"""Reddit: app-only OAuth (client credentials) and `/search?sort=new` (platforms.md §3).

1. `POST {auth_url}/api/v1/access_token` with HTTP Basic client id/secret and
   `grant_type=client_credentials`. The token endpoint reports refusals with **HTTP 200** and an
   `error` key: that is an auth failure too. The token (an hour) is kept in this process.
2. `GET {base_url}/search?q=…&sort=new&t=week&limit=100&raw_json=1&type=link` with
   `Authorization: bearer …` and a descriptive User-Agent, newest first, paged with `after`
   until a known post or one older than the mark comes back. `raw_json=1` asks for unescaped
   text; entities are decoded anyway.
3. A 401 on search (expired token) gets a new token and one retry.

`[removed]`/`[deleted]` posts are not stored. Comments are not searchable through the API
(`type` accepts only link, sr and user), so only posts are mentions. Rate limits:
`X-Ratelimit-Remaining` may be a float and `X-Ratelimit-Reset` is seconds until the reset.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx

from worker.model import Mention, Page
from worker.sources import ratelimit
from worker.sources.base import AUTH_FAILED, PayloadError, Query, SourceContext, SourceError
from worker.sources.budget import Budget
from worker.sources.common import NewestFirst, count, parse_time
from worker.sources.http import expect, fail, json_body, message_of, send
from worker.sources.text import plain

LIMIT = 100
OVERLAP = timedelta(minutes=5)
GONE = ("[removed]", "[deleted]")

_tokens: dict[tuple[str, str], tuple[str, datetime]] = {}
_lock = threading.Lock()


def forget_tokens() -> None:
    with _lock:
        _tokens.clear()


class RedditConnector:
    platform = "reddit"

    def budget(self, query: Query, ctx: SourceContext) -> Budget:
        return Budget(
            key=f"reddit:{ctx.base_url}:{ctx.options.get('client_id_env')}", platform=self.platform
        )

    def _token(self, client: httpx.Client, ctx: SourceContext, now: datetime, fresh: bool) -> str:
        key = (str(ctx.options.get("auth_url")), str(ctx.options.get("client_id_env")))
        with _lock:
            held = _tokens.get(key)
        if held and not fresh and held[1] > now:
            return held[0]
        client_id = ctx.secret("client_id_env", "client id")
        secret = ctx.secret("client_secret_env", "client secret")
        what = "reddit access_token"
        response = send(
            client,
            "POST",
            ctx.url("/api/v1/access_token", base=str(ctx.options.get("auth_url"))),
            what,
            auth=(client_id, secret),
            data={"grant_type": "client_credentials"},
            headers={"User-Agent": str(ctx.options.get("user_agent"))},
        )
        names = f"{ctx.options.get('client_id_env')}/{ctx.options.get('client_secret_env')}"
        if response.status_code == 429 or response.status_code >= 500:
            raise fail(response, what, ratelimit.reddit(response.headers, now))
        data = json_body(response, what) if response.status_code == 200 else None
        if response.status_code != 200 or not isinstance(data, dict) or "error" in data:
            said = message_of(response)
            raise SourceError(
                f"{what}: HTTP {response.status_code}{f' ({said})' if said else ''}: "
                f"the client credentials in {names} were refused",
                status=response.status_code,
                permanent=True,
                health=AUTH_FAILED,
            )
        token = data.get("access_token")
        expect(isinstance(token, str) and bool(token), what, "no access_token")
        expires = now + timedelta(seconds=max(60, count(data.get("expires_in")) - 60))
        with _lock:
            _tokens[key] = (str(token), expires)
        return str(token)

    def fetch(
        self,
        client: httpx.Client,
        query: Query,
        cursor: Mapping[str, Any],
        now: datetime,
        ctx: SourceContext | None = None,
    ) -> Page:
        ctx = ctx or SourceContext(self.platform, "https://oauth.reddit.com")
        state = NewestFirst(cursor, now, OVERLAP)
        params: dict[str, Any] = {
            "q": query.query,
            "sort": "new",
            "t": "week",
            "limit": LIMIT,
            "raw_json": 1,
            "type": "link",
        }
        if state.token:
            params["after"] = state.token
        what = f"reddit search {query.query!r}"
        response = None
        for attempt in range(2):
            token = self._token(client, ctx, now, fresh=attempt > 0)
            response = send(
                client,
                "GET",
                ctx.url("/search"),
                what,
                params=params,
                headers={
                    "Authorization": f"bearer {token}",
                    "User-Agent": str(ctx.options.get("user_agent")),
                },
            )
            if response.status_code != 401:
                break
        assert response is not None
        rl = ratelimit.reddit(response.headers, now)
        if response.status_code != 200:
            raise fail(response, what, rl, auth_hint="the app-only token was refused")
        data = json_body(response, what)
        expect(
            isinstance(data, dict)
            and isinstance(data.get("data"), dict)
            and isinstance(data["data"].get("children"), list),
            what,
            "not a Listing",
        )
        listing = data["data"]
        items = []
        for child in listing["children"]:
            post = child.get("data") if isinstance(child, dict) else None
            if not isinstance(post, dict) or not isinstance(post.get("name"), str):
                raise PayloadError(f"{what}: a listing child without data.name")
            when = parse_time(post.get("created_utc"), f"{what}: {post['name']}")
            items.append((post["name"], when, post))
        kept, reached = state.take(items)
        next_cursor, more = state.next_cursor(listing.get("after"), reached or not items)
        mentions = [self._mention(p, query, what) for p in kept if not _gone(p)]
        skipped = [f"{p['name']}: removed or deleted" for p in kept if _gone(p)]
        return Page(
            mentions=mentions, cursor=next_cursor, rate_limit=rl, more=more, skipped=skipped
        )

    def _mention(self, post: dict[str, Any], query: Query, what: str) -> Mention:
        title = plain(post.get("title"))
        body = plain(post.get("selftext"))
        permalink = post.get("permalink") or ""
        return Mention(
            platform=self.platform,
            id=str(post.get("id") or post["name"].removeprefix("t3_")),
            created_at=parse_time(post.get("created_utc"), f"{what}: {post['name']}"),
            text=f"{title}\n\n{body}" if title and body else title or body,
            url=f"https://www.reddit.com{permalink}" if permalink.startswith("/") else permalink,
            author=post.get("author"),
            likes=count(post.get("score")),
            reposts=count(post.get("num_crossposts")),
            replies=count(post.get("num_comments")),
            topic=query.topic,
            extra={
                "subreddit": post.get("subreddit_name_prefixed"),
                "subreddit_subscribers": count(post.get("subreddit_subscribers")),
            },
        )


def _gone(post: Mapping[str, Any]) -> bool:
    return (
        post.get("selftext") in GONE
        or post.get("title") in GONE
        or bool(post.get("removed_by_category"))
    )
