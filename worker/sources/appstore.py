"""App Store reviews from Apple's public customer-reviews feed (JSON) for any app id
(platforms.md §8 A; undocumented by Apple).

A query is an app id, optionally with a country: `123456789` or `fr:123456789` (the default
country is `[sources.appstore] country`). `GET {base_url}/{country}/rss/customerreviews/
page={n}/id={app}/sortby=mostRecent/json`, pages 1–10 of up to 50 reviews, newest first, until a
known review comes back. The trap: `feed.entry` is a list, or a single object when there is one
review, or missing when there are none. No rate-limit contract, no reviewer reach.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx

from worker.model import Mention, Page
from worker.sources.base import PayloadError, Query, SourceContext
from worker.sources.common import NewestFirst, count, obj, parse_time
from worker.sources.http import expect, fail, json_body, send
from worker.sources.text import plain

PAGE_SIZE = 50
MAX_PAGE = 10


def _label(value: Any) -> str:
    return str(obj(value).get("label") or "")


class AppStoreConnector:
    platform = "appstore"

    def fetch(
        self,
        client: httpx.Client,
        query: Query,
        cursor: Mapping[str, Any],
        now: datetime,
        ctx: SourceContext | None = None,
    ) -> Page:
        ctx = ctx or SourceContext(self.platform, "https://itunes.apple.com", {"country": "us"})
        country, _, app = query.query.strip().rpartition(":")
        country = (country or str(ctx.options.get("country") or "us")).lower()
        app = app.removeprefix("id")
        what = f"appstore reviews of {app} ({country})"
        if not app.isdigit():
            raise PayloadError(
                f"{what}: the query must be an app id like 123456789 or fr:123456789"
            )
        state = NewestFirst(cursor, now, timedelta(0))
        page_no = int(state.token or 1)
        response = send(
            client,
            "GET",
            ctx.url(
                f"/{country}/rss/customerreviews/page={page_no}/id={app}/sortby=mostRecent/json"
            ),
            what,
        )
        if response.status_code != 200:
            raise fail(response, what, None)
        data = json_body(response, what)
        feed = obj(data).get("feed")
        expect(isinstance(feed, dict), what, "no feed object")
        assert isinstance(feed, dict)
        entries = feed.get("entry")
        if entries is None:
            entries = []
        elif isinstance(entries, dict):
            entries = [entries]  # one review: an object, not a list
        expect(isinstance(entries, list), what, "feed.entry is neither a list nor an object")
        items = []
        for e in entries:
            m = self._mention(e, query, app, country, what)
            items.append((m.id, m.created_at, m))
        kept, reached = state.take(items)
        next_token = str(page_no + 1) if len(entries) >= PAGE_SIZE and page_no < MAX_PAGE else None
        next_cursor, more = state.next_cursor(next_token, reached or not items)
        return Page(mentions=kept, cursor=next_cursor, more=more)

    def _mention(self, e: Any, query: Query, app: str, country: str, what: str) -> Mention:
        rid = _label(obj(e).get("id"))
        if not rid:
            raise PayloadError(f"{what}: a review without id.label")
        title, content = plain(_label(e.get("title"))), plain(_label(e.get("content")))
        link = obj(obj(e.get("link")).get("attributes")).get("href")
        return Mention(
            platform=self.platform,
            id=rid,
            created_at=parse_time(_label(e.get("updated")), f"{what}: review {rid}"),
            text=f"{title}\n\n{content}" if title and content else title or content,
            url=link or f"https://apps.apple.com/{country}/app/id{app}?see-all=reviews",
            author=_label(obj(e.get("author")).get("name")) or None,
            topic=query.topic,
            extra={
                "rating": count(_label(e.get("im:rating"))),
                "version": _label(e.get("im:version")) or None,
                "country": country,
            },
        )
