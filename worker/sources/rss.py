"""RSS 2.0 / Atom feeds with conditional GET (../shared/platforms.md §7).

1. Send If-None-Match / If-Modified-Since from the cursor (the ETag wins when both exist).
2. 304 → nothing new: a Page with `not_modified=True` (proof the source was watched).
3. 301/308 → follow, and keep the new URL in the cursor; 302/307 → follow this time only.
4. 200 → parse with feedparser; keep only entries not seen before (guid/id, else link), so a feed
   without validators can be fetched again without duplicates.
5. The new cursor holds the validators, the moved URL, and the last 500 ids seen.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import feedparser
import httpx

from worker.model import Mention, Page
from worker.sources.base import PayloadError, Query, SourceContext, SourceError
from worker.sources.http import get, raise_for_status

SEEN_MAX = 500
_TAG = re.compile(r"<[^>]+>")


def strip_html(value: str) -> str:
    """Plain text from an HTML fragment: tags dropped, entities decoded. Text stays inert data."""
    return " ".join(html.unescape(_TAG.sub(" ", value)).split())


def _when(entry: Any, now: datetime) -> datetime:
    for key in ("published_parsed", "updated_parsed"):
        t = entry.get(key)
        if t:
            year, month, day, hour, minute, second = t[:6]
            return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    return now


def _entry_id(entry: Any) -> str | None:
    return entry.get("id") or entry.get("guid") or entry.get("link")


class RSSConnector:
    platform = "rss"

    def fetch(
        self,
        client: httpx.Client,
        query: Query,
        cursor: Mapping[str, Any],
        now: datetime,
        ctx: SourceContext | None = None,
    ) -> Page:
        url = str(cursor.get("url") or query.query)
        headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9"}
        if cursor.get("etag"):
            headers["If-None-Match"] = str(cursor["etag"])
        if cursor.get("modified"):
            headers["If-Modified-Since"] = str(cursor["modified"])
        moved_to: str | None = None
        for _ in range(4):
            response = get(client, url, headers, f"feed {url}")
            if response.status_code in (301, 302, 307, 308) and "location" in response.headers:
                url = str(response.url.join(response.headers["location"]))
                if response.status_code in (301, 308):
                    moved_to = url
                continue
            break
        else:
            raise SourceError(f"feed {query.query}: too many redirects", permanent=True)

        new_cursor = dict(cursor)
        if moved_to:
            new_cursor["url"] = moved_to
        if response.status_code == 304:
            return Page(mentions=[], cursor=new_cursor, not_modified=True)
        raise_for_status(response, now, f"feed {url}")

        parsed = feedparser.parse(response.content)
        if parsed.get("bozo") and not parsed.entries:
            reason = parsed.get("bozo_exception")
            raise PayloadError(f"feed {url}: not a valid RSS/Atom document ({reason})")
        if not parsed.get("version") and not parsed.entries:
            raise PayloadError(f"feed {url}: not an RSS/Atom document")

        seen: list[str] = list(cursor.get("seen") or [])
        seen_set = set(seen)
        mentions, skipped = [], []
        for entry in parsed.entries:
            eid = _entry_id(entry)
            if not eid:
                skipped.append("entry without guid, id or link")
                continue
            if eid in seen_set:
                continue
            seen_set.add(eid)
            seen.append(eid)
            title = strip_html(entry.get("title", ""))
            summary = strip_html(entry.get("summary", "") or entry.get("description", ""))
            text = (
                f"{title} — {summary}"
                if title and summary and summary != title
                else title or summary
            )
            source = entry.get("source") or {}
            author = entry.get("author") or source.get("title")
            extra: dict[str, Any] = {}
            if source.get("href") or source.get("title"):
                extra["publisher"] = {"name": source.get("title"), "url": source.get("href")}
            mentions.append(
                Mention(
                    platform=self.platform,
                    id=eid if len(eid) <= 200 else hashlib.sha256(eid.encode()).hexdigest(),
                    created_at=_when(entry, now),
                    text=text,
                    url=entry.get("link"),
                    author=author,
                    topic=query.topic,
                    extra=extra,
                )
            )
        new_cursor["seen"] = seen[-SEEN_MAX:]
        if response.headers.get("ETag"):
            new_cursor["etag"] = response.headers["ETag"]
        if response.headers.get("Last-Modified"):
            new_cursor["modified"] = response.headers["Last-Modified"]
        return Page(mentions=mentions, cursor=new_cursor, skipped=skipped)
