"""YouTube Data API v3: videos that `search.list` finds, and comments on the brand's own
channel through `commentThreads.list` (platforms.md §6).

- A query `lumio` searches videos: `search?part=snippet&type=video&order=date&q=…&maxResults=50`
  with `publishedAfter` (the mark minus an overlap; 3 days back the first time) and `pageToken`,
  newest first until a known video comes back. A video is a mention: title and description.
- A query `channel:UC…` reads the comment threads of that channel's videos
  (`allThreadsRelatedToChannelId`, `order=time`, `textFormat=plainText`).
- The API key goes as `key=`; the quota has no headers. `search.list` has its own daily bucket
  (100 calls by default) and everything else 10,000 units, both reset at midnight Pacific: tocsin
  keeps both budgets itself and spaces the polls so a day's bucket lasts the day. Over quota is
  **HTTP 403** `quotaExceeded` (not 429): rate_limited until the Pacific midnight.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx

from worker.model import Mention, Page, RateLimit
from worker.sources.base import (
    AUTH_FAILED,
    RATE_LIMITED,
    UNAVAILABLE,
    PayloadError,
    Query,
    SourceContext,
    SourceError,
)
from worker.sources.budget import Budget, pacific_day
from worker.sources.common import NewestFirst, count, iso, obj, parse_time
from worker.sources.http import expect, fail, json_body, message_of, send
from worker.sources.text import plain

MAX_RESULTS = 50
OVERLAP = timedelta(minutes=30)


def _reasons(response: httpx.Response) -> tuple[set[str], str]:
    """Google's error reasons (`quotaExceeded`, `keyInvalid`…) and its message."""
    try:
        err = obj(obj(response.json()).get("error"))
    except ValueError:
        return set(), ""
    return {str(obj(e).get("reason")) for e in err.get("errors") or []}, str(
        err.get("message") or ""
    )


class YouTubeConnector:
    platform = "youtube"

    def budget(self, query: Query, ctx: SourceContext) -> Budget:
        env = ctx.options.get("api_key_env")
        if query.query.startswith("channel:"):
            return Budget(
                key=f"youtube:units:{ctx.base_url}:{env}",
                platform=self.platform,
                limit=int(ctx.options.get("units_per_day") or 10_000),
                window=pacific_day,
            )
        return Budget(
            key=f"youtube:search:{ctx.base_url}:{env}",
            platform=self.platform,
            limit=int(ctx.options.get("search_calls_per_day") or 100),
            window=pacific_day,
        )

    def fetch(
        self,
        client: httpx.Client,
        query: Query,
        cursor: Mapping[str, Any],
        now: datetime,
        ctx: SourceContext | None = None,
    ) -> Page:
        ctx = ctx or SourceContext(
            self.platform, "https://www.googleapis.com", {"api_key_env": "YOUTUBE_API_KEY"}
        )
        key = ctx.secret("api_key_env", "API key")
        state = NewestFirst(cursor, now, OVERLAP)
        channel = (
            query.query.removeprefix("channel:") if query.query.startswith("channel:") else None
        )
        if channel:
            what = f"youtube comments of {channel}"
            path = "/youtube/v3/commentThreads"
            params: dict[str, Any] = {
                "part": "snippet",
                "allThreadsRelatedToChannelId": channel,
                "order": "time",
                "maxResults": min(100, MAX_RESULTS * 2),
                "textFormat": "plainText",
                "key": key,
            }
        else:
            what = f"youtube search {query.query!r}"
            path = "/youtube/v3/search"
            params = {
                "part": "snippet",
                "q": query.query,
                "type": "video",
                "order": "date",
                "maxResults": MAX_RESULTS,
                "publishedAfter": iso(state.since.replace(microsecond=0)),
                "key": key,
            }
        if state.token:
            params["pageToken"] = state.token
        response = send(client, "GET", ctx.url(path), what, params=params)
        if response.status_code != 200:
            raise self._error(response, what, now, ctx)
        data = json_body(response, what)
        expect(isinstance(data, dict) and isinstance(data.get("items"), list), what, "no items")
        items = []
        for item in data["items"]:
            m = self._comment(item, query, what) if channel else self._video(item, query, what)
            items.append((m.id, m.created_at, m))
        kept, reached = state.take(items)
        next_cursor, more = state.next_cursor(data.get("nextPageToken"), reached or not items)
        return Page(mentions=kept, cursor=next_cursor, more=more)

    def _error(
        self, response: httpx.Response, what: str, now: datetime, ctx: SourceContext
    ) -> SourceError:
        reasons, message = _reasons(response)
        said = message_of(response)
        if reasons & {"quotaExceeded", "dailyLimitExceeded", "rateLimitExceeded"}:
            reset = pacific_day(now)[1]
            return SourceError(
                f"{what}: daily quota exceeded ({said}); it resets at midnight Pacific",
                status=response.status_code,
                health=RATE_LIMITED,
                rate_limit=RateLimit(remaining=0, reset_at=reset),
            )
        if reasons & {"keyInvalid", "forbidden", "accessNotConfigured", "ipRefererBlocked"} or (
            response.status_code == 400 and "API key" in message
        ):
            return SourceError(
                f"{what}: HTTP {response.status_code} ({said}): "
                f"the API key in {ctx.options.get('api_key_env')} was refused",
                status=response.status_code,
                permanent=True,
                health=AUTH_FAILED,
            )
        if reasons & {"commentsDisabled", "channelNotFound", "videoNotFound"}:
            return SourceError(
                f"{what}: HTTP {response.status_code} ({said})",
                status=response.status_code,
                permanent=True,
                health=UNAVAILABLE,
            )
        return fail(response, what, None, auth_hint="the API key was refused")

    def _video(self, item: Any, query: Query, what: str) -> Mention:
        vid = obj(obj(item).get("id")).get("videoId")
        snippet = obj(obj(item).get("snippet"))
        if not isinstance(vid, str) or not snippet:
            raise PayloadError(f"{what}: a search result without id.videoId or snippet")
        title, desc = plain(snippet.get("title")), plain(snippet.get("description"))
        return Mention(
            platform=self.platform,
            id=vid,
            created_at=parse_time(snippet.get("publishedAt"), f"{what}: video {vid}"),
            text=f"{title}\n\n{desc}" if title and desc else title or desc,
            url=f"https://www.youtube.com/watch?v={vid}",
            author=plain(snippet.get("channelTitle")) or None,
            topic=query.topic,
            extra={"channel_id": snippet.get("channelId")},
        )

    def _comment(self, item: Any, query: Query, what: str) -> Mention:
        thread = obj(item)
        top = obj(obj(obj(thread.get("snippet")).get("topLevelComment")).get("snippet"))
        tid = thread.get("id")
        if not isinstance(tid, str) or not top:
            raise PayloadError(f"{what}: a comment thread without id or topLevelComment")
        video = top.get("videoId") or obj(thread.get("snippet")).get("videoId")
        return Mention(
            platform=self.platform,
            id=tid,
            created_at=parse_time(top.get("publishedAt"), f"{what}: comment {tid}"),
            text=plain(top.get("textOriginal") or top.get("textDisplay")),
            url=f"https://www.youtube.com/watch?v={video}&lc={tid}",
            author=top.get("authorDisplayName"),
            likes=count(top.get("likeCount")),
            replies=count(obj(thread.get("snippet")).get("totalReplyCount")),
            topic=query.topic,
            in_reply_to=video,
            extra={"kind": "comment"},
        )
