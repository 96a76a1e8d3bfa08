"""Mastodon: hashtag timelines, and status search when a user token is set (platforms.md §1).

A query `#lumio` polls `GET /api/v1/timelines/tag/lumio`; any other query uses
`GET /api/v2/search?type=statuses`, which finds statuses only with a user token (`token_env`).

Paging is forward with `min_id`: the server returns the statuses immediately newer than the
cursor (newest first within the page), so each stored page moves the cursor to its newest id and
a failure between pages loses nothing. Mastodon ids are time-based (milliseconds << 16), so the
first poll starts from the id of "3 days ago" (the baseline). Rate limits: `X-RateLimit-Reset`
is an ISO 8601 time with microseconds; a 429 carries no Retry-After.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from worker.model import Mention, Page
from worker.sources import ratelimit
from worker.sources.base import PayloadError, Query, SourceContext, SourceError
from worker.sources.budget import Budget
from worker.sources.common import BASELINE, count, obj, parse_time
from worker.sources.http import expect, fail, json_body, send
from worker.sources.text import html_to_text

LIMIT = 40


def snowflake(when: datetime) -> str:
    """The smallest Mastodon id of a status written at `when` (ids are ms << 16)."""
    return str(int(when.timestamp() * 1000) << 16)


def _id_key(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isdigit() else (0, value)


class MastodonConnector:
    platform = "mastodon"

    def budget(self, query: Query, ctx: SourceContext) -> Budget:
        who = ctx.options.get("token_env") or "anonymous"
        return Budget(key=f"mastodon:{ctx.base_url}:{who}", platform=self.platform)

    def fetch(
        self,
        client: httpx.Client,
        query: Query,
        cursor: Mapping[str, Any],
        now: datetime,
        ctx: SourceContext | None = None,
    ) -> Page:
        ctx = ctx or SourceContext(self.platform, "https://mastodon.social")
        min_id = str(cursor.get("min_id") or snowflake(now - BASELINE))
        headers = {"Accept": "application/json"}
        token_env = ctx.options.get("token_env")
        if ctx.has("token_env"):
            headers["Authorization"] = f"Bearer {ctx.secret('token_env', 'access token')}"
        q = query.query.strip()
        if q.startswith("#"):
            tag = q[1:]
            url = ctx.url(f"/api/v1/timelines/tag/{quote(tag, safe='')}")
            params: dict[str, Any] = {"min_id": min_id, "limit": LIMIT}
            what = f"mastodon #{tag}"
        else:
            if "Authorization" not in headers:
                name = token_env or "sources.mastodon.token_env"
                raise SourceError(
                    f"mastodon search {q!r}: status search needs a user token with read:search "
                    f"(set {name}); hashtag queries (#tag) need none",
                    permanent=True,
                    health="auth_failed",
                )
            url = ctx.url("/api/v2/search")
            params = {"q": q, "type": "statuses", "min_id": min_id, "limit": LIMIT}
            what = f"mastodon search {q!r}"
        response = send(client, "GET", url, what, params=params, headers=headers)
        rl = ratelimit.mastodon(response.headers, now)
        if response.status_code != 200:
            hint = (
                f"the token in {token_env} was refused"
                if "Authorization" in headers
                else "this instance needs a token (set sources.mastodon.token_env)"
            )
            if response.status_code == 404:
                raise SourceError(
                    f"{what}: not found on {ctx.base_url} (HTTP 404)",
                    status=404,
                    permanent=True,
                    health="unavailable",
                )
            raise fail(response, what, rl, auth_hint=hint)
        data = json_body(response, what)
        if not q.startswith("#"):
            expect(isinstance(data, dict), what, "search answer is not an object")
            data = data.get("statuses")
        expect(isinstance(data, list), what, "expected a list of statuses")
        mentions = [self._mention(s, query, what) for s in data]
        if not mentions:
            return Page([], {**cursor, "min_id": min_id}, rate_limit=rl)
        newest = max((str(s["id"]) for s in data), key=_id_key)
        return Page(
            mentions=mentions,
            cursor={**cursor, "min_id": newest},
            rate_limit=rl,
            more=len(data) >= LIMIT,
        )

    def _mention(self, status: Any, query: Query, what: str) -> Mention:
        if not isinstance(status, dict) or not isinstance(status.get("id"), str):
            raise PayloadError(f"{what}: a status without a string id")
        account = status.get("account")
        if not isinstance(account, dict):
            raise PayloadError(f"{what}: status {status['id']} has no account")
        inner = obj(status.get("reblog")) or status
        spoiler = html_to_text(inner.get("spoiler_text"))
        content = html_to_text(inner.get("content"))
        text = f"{spoiler}\n\n{content}" if spoiler and content else spoiler or content
        return Mention(
            platform=self.platform,
            id=status["id"],
            created_at=parse_time(status.get("created_at"), f"{what}: status {status['id']}"),
            text=text,
            url=status.get("url") or status.get("uri"),
            author=account.get("acct"),
            author_followers=count(account.get("followers_count")),
            lang=status.get("language"),
            likes=count(inner.get("favourites_count")),
            reposts=count(inner.get("reblogs_count")),
            replies=count(inner.get("replies_count")),
            topic=query.topic,
            in_reply_to=status.get("in_reply_to_id"),
            extra={"uri": status.get("uri")},
        )
