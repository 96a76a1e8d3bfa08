"""Hacker News through Algolia's `search_by_date`: stories and comments (platforms.md §5).

1. `GET {base_url}/api/v1/search_by_date?query=…&tags=(story,comment)&hitsPerPage=100&page=P`
   with `numericFilters=created_at_i>=SINCE,created_at_i<=UNTIL`. UNTIL is fixed when a poll
   starts paging, so pages stay stable while new items arrive.
2. SINCE is the newest second seen so far, inclusive (`>=`): items written in the same second as
   the last one seen are not lost, and the ids already seen at that second are skipped.
3. Between pages the cursor holds the page number and the window; a failure resumes there.

No rate-limit headers: tocsin keeps its own budget (10,000 requests an hour per IP by default).
Comment text is HTML (`&#x27;`, `<p>`), turned into plain text.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from worker.model import Mention, Page
from worker.sources import ratelimit
from worker.sources.base import PayloadError, Query, SourceContext
from worker.sources.budget import Budget, hour_window
from worker.sources.common import BASELINE, count
from worker.sources.http import expect, fail, json_body, send
from worker.sources.text import html_to_text, plain

HITS = 100


class HackerNewsConnector:
    platform = "hackernews"

    def budget(self, query: Query, ctx: SourceContext) -> Budget:
        return Budget(
            key=f"hackernews:{ctx.base_url}",
            platform=self.platform,
            limit=int(ctx.options.get("requests_per_hour") or 10_000),
            window=hour_window,
        )

    def fetch(
        self,
        client: httpx.Client,
        query: Query,
        cursor: Mapping[str, Any],
        now: datetime,
        ctx: SourceContext | None = None,
    ) -> Page:
        ctx = ctx or SourceContext(self.platform, "https://hn.algolia.com")
        since = int(cursor.get("since") or (now - BASELINE).timestamp())
        seen_at_since = set(cursor.get("seen") or [])
        paging = dict(cursor.get("paging") or {})
        until = int(paging.get("until") or now.timestamp())
        page_no = int(paging.get("page") or 0)
        params = {
            "query": query.query,
            "tags": "(story,comment)",
            "numericFilters": f"created_at_i>={since},created_at_i<={until}",
            "hitsPerPage": HITS,
            "page": page_no,
        }
        what = f"hackernews search {query.query!r}"
        response = send(client, "GET", ctx.url("/api/v1/search_by_date"), what, params=params)
        rl = ratelimit.plain(response.headers, now)
        if response.status_code != 200:
            raise fail(response, what, rl)
        data = json_body(response, what)
        expect(isinstance(data, dict) and isinstance(data.get("hits"), list), what, "no hits list")
        mentions = []
        newest = int(paging.get("newest") or since)
        newest_ids = set(paging.get("newest_ids") or [])
        for hit in data["hits"]:
            m = self._mention(hit, query, what)
            ts = int(m.created_at.timestamp())
            if ts == since and m.id in seen_at_since:
                continue
            mentions.append(m)
            if ts > newest:
                newest, newest_ids = ts, {m.id}
            elif ts == newest:
                newest_ids.add(m.id)
        pages = count(data.get("nbPages"))
        if page_no + 1 < pages and data["hits"]:
            return Page(
                mentions=mentions,
                cursor={
                    **cursor,
                    "paging": {
                        "until": until,
                        "page": page_no + 1,
                        "newest": newest,
                        "newest_ids": sorted(newest_ids),
                    },
                },
                rate_limit=rl,
                more=True,
            )
        if newest == since:
            newest_ids |= seen_at_since
        new_cursor = {k: v for k, v in cursor.items() if k != "paging"}
        new_cursor.update({"since": newest, "seen": sorted(newest_ids)})
        return Page(mentions=mentions, cursor=new_cursor, rate_limit=rl)

    def _mention(self, hit: Any, query: Query, what: str) -> Mention:
        if not isinstance(hit, dict) or not hit.get("objectID"):
            raise PayloadError(f"{what}: a hit without objectID")
        oid = str(hit["objectID"])
        ts = hit.get("created_at_i")
        if isinstance(ts, bool) or not isinstance(ts, int):
            raise PayloadError(f"{what}: hit {oid} has no created_at_i")
        tags = hit.get("_tags") or []
        if "comment" in tags or hit.get("comment_text"):
            text = html_to_text(hit.get("comment_text"))
        else:
            title = plain(hit.get("title"))
            body = html_to_text(hit.get("story_text"))
            text = f"{title}\n\n{body}" if title and body else title or body
        parent = hit.get("parent_id")
        return Mention(
            platform=self.platform,
            id=oid,
            created_at=datetime.fromtimestamp(ts, UTC),
            text=text,
            url=f"https://news.ycombinator.com/item?id={oid}",
            author=hit.get("author"),
            likes=count(hit.get("points")),
            replies=count(hit.get("num_comments")),
            topic=query.topic,
            in_reply_to=str(parent) if parent is not None else None,
            extra={"story_id": hit.get("story_id"), "story_title": hit.get("story_title")},
        )
