"""Bluesky: `app.bsky.feed.searchPosts` through the PDS with an app-password session
(platforms.md §2).

1. `createSession` with the identifier and app password from the environment gives an access
   and a refresh token, kept in this process (createSession is limited to 30 per 5 minutes).
2. `searchPosts?q=…&sort=latest&since=…&limit=100` with the access token, newest first, paged
   with the opaque `cursor` until a known post or one older than the mark comes back.
3. An expired access token answers HTTP 400 `ExpiredToken`: `refreshSession` with the refresh
   token, then the same request again; a refused refresh starts a new session once.

A post's time is `record.createdAt` (when it was written), not `indexedAt`; `since` compares
`sortAt` (the earlier of the two), so the mark keeps a 10-minute overlap and known URIs stop the
paging. Rate limits: `RateLimit-Reset` in Unix seconds.
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
from worker.sources.common import NewestFirst, count, iso, obj, parse_time
from worker.sources.http import expect, fail, json_body, message_of, send
from worker.sources.text import plain

LIMIT = 100
OVERLAP = timedelta(minutes=10)

_sessions: dict[tuple[str, str], dict[str, str]] = {}
_lock = threading.Lock()


def forget_sessions() -> None:
    """Drop the sessions kept in this process (tests, and a changed app password)."""
    with _lock:
        _sessions.clear()


class BlueskyConnector:
    platform = "bluesky"

    def budget(self, query: Query, ctx: SourceContext) -> Budget:
        return Budget(
            key=f"bluesky:{ctx.base_url}:{ctx.options.get('identifier_env')}",
            platform=self.platform,
        )

    def _login(self, client: httpx.Client, ctx: SourceContext, now: datetime) -> dict[str, str]:
        identifier = ctx.secret("identifier_env", "account identifier")
        password = ctx.secret("app_password_env", "app password")
        what = "bluesky createSession"
        response = send(
            client,
            "POST",
            ctx.url("/xrpc/com.atproto.server.createSession"),
            what,
            json={"identifier": identifier, "password": password},
        )
        if response.status_code != 200:
            env_name = ctx.options.get("app_password_env")
            if response.status_code == 429 or response.status_code >= 500:
                raise fail(response, what, ratelimit.bluesky(response.headers, now))
            said = message_of(response)
            raise SourceError(
                f"{what}: HTTP {response.status_code}{f' ({said})' if said else ''}: "
                f"the identifier/app password in {env_name} was refused",
                status=response.status_code,
                permanent=True,
                health=AUTH_FAILED,
            )
        data = json_body(response, what)
        expect(
            isinstance(data, dict) and isinstance(data.get("accessJwt"), str),
            what,
            "no accessJwt in the session",
        )
        return {"access": data["accessJwt"], "refresh": str(data.get("refreshJwt") or "")}

    def _refresh(
        self, client: httpx.Client, ctx: SourceContext, tokens: dict[str, str]
    ) -> dict[str, str] | None:
        if not tokens.get("refresh"):
            return None
        response = send(
            client,
            "POST",
            ctx.url("/xrpc/com.atproto.server.refreshSession"),
            "bluesky refreshSession",
            headers={"Authorization": f"Bearer {tokens['refresh']}"},
        )
        if response.status_code != 200:
            return None
        data = json_body(response, "bluesky refreshSession")
        if not isinstance(data, dict) or not isinstance(data.get("accessJwt"), str):
            return None
        return {"access": data["accessJwt"], "refresh": str(data.get("refreshJwt") or "")}

    def fetch(
        self,
        client: httpx.Client,
        query: Query,
        cursor: Mapping[str, Any],
        now: datetime,
        ctx: SourceContext | None = None,
    ) -> Page:
        ctx = ctx or SourceContext(self.platform, "https://bsky.social")
        key = (ctx.base_url, str(ctx.options.get("identifier_env")))
        state = NewestFirst(cursor, now, OVERLAP)
        params: dict[str, Any] = {
            "q": query.query,
            "sort": "latest",
            "since": iso(state.since),
            "limit": LIMIT,
        }
        if state.token:
            params["cursor"] = state.token
        what = f"bluesky search {query.query!r}"
        with _lock:
            tokens = _sessions.get(key)
        if tokens is None:
            tokens = self._login(client, ctx, now)
        response = None
        for attempt in range(3):
            response = send(
                client,
                "GET",
                ctx.url("/xrpc/app.bsky.feed.searchPosts"),
                what,
                params=params,
                headers={"Authorization": f"Bearer {tokens['access']}"},
            )
            if response.status_code == 400 and _error_name(response) == "ExpiredToken":
                refreshed = self._refresh(client, ctx, tokens) if attempt == 0 else None
                tokens = refreshed or self._login(client, ctx, now)
                continue
            if response.status_code == 401 and attempt == 0:
                tokens = self._login(client, ctx, now)
                continue
            break
        assert response is not None
        with _lock:
            _sessions[key] = tokens
        rl = ratelimit.bluesky(response.headers, now)
        if response.status_code != 200:
            raise fail(
                response,
                what,
                rl,
                auth_hint=f"the session of {ctx.options.get('identifier_env')} was refused",
            )
        data = json_body(response, what)
        expect(
            isinstance(data, dict) and isinstance(data.get("posts"), list), what, "no posts list"
        )
        items = []
        for post in data["posts"]:
            m = self._mention(post, query, what)
            sort_at = min(
                m.created_at, parse_time(post.get("indexedAt") or iso(m.created_at), what)
            )
            items.append((m.id, sort_at, m))
        kept, reached = state.take(items)
        next_cursor, more = state.next_cursor(data.get("cursor"), reached or not data["posts"])
        return Page(mentions=kept, cursor=next_cursor, rate_limit=rl, more=more)

    def _mention(self, post: Any, query: Query, what: str) -> Mention:
        if not isinstance(post, dict) or not isinstance(post.get("uri"), str):
            raise PayloadError(f"{what}: a post without a uri")
        record, author = post.get("record"), post.get("author")
        if not isinstance(record, dict) or not isinstance(author, dict):
            raise PayloadError(f"{what}: post {post['uri']} has no record or author")
        handle = author.get("handle") or author.get("did")
        rkey = post["uri"].rsplit("/", 1)[-1]
        langs = record.get("langs") or []
        reply = obj(record.get("reply"))
        parent = obj(reply.get("parent"))
        return Mention(
            platform=self.platform,
            id=post["uri"],
            created_at=parse_time(record.get("createdAt"), f"{what}: post {post['uri']}"),
            text=plain(record.get("text") if isinstance(record.get("text"), str) else ""),
            url=f"https://bsky.app/profile/{handle}/post/{rkey}",
            author=handle,
            lang=langs[0] if langs and isinstance(langs[0], str) else None,
            likes=count(post.get("likeCount")),
            reposts=count(post.get("repostCount")),
            replies=count(post.get("replyCount")),
            topic=query.topic,
            in_reply_to=parent.get("uri"),
            extra={"quotes": count(post.get("quoteCount"))},
        )


def _error_name(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return ""
    return str(data.get("error") or "") if isinstance(data, dict) else ""
