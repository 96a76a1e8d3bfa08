"""Google News search as a feed: the query form `googlenews = ["lumio recall"]`
(platforms.md §7, undocumented by Google).

The query becomes `{base_url}/rss/search?q=<query>&hl=…&gl=…&ceid=…` (hl, gl and ceid agree,
from `[sources.googlenews]`), and the RSS connector does the rest: conditional GET when the
server sends validators, dedupe on guid when it does not. Operators such as `when:1d`, quotes
and `site:` pass through in `q`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import httpx

from worker.model import Page
from worker.sources.base import Query, SourceContext
from worker.sources.rss import RSSConnector


def search_url(query: str, ctx: SourceContext) -> str:
    params = {
        "q": query,
        "hl": ctx.options.get("hl") or "en-US",
        "gl": ctx.options.get("gl") or "US",
        "ceid": ctx.options.get("ceid") or "US:en",
    }
    return ctx.url("/rss/search") + "?" + urlencode(params)


class GoogleNewsConnector(RSSConnector):
    platform = "googlenews"

    def fetch(
        self,
        client: httpx.Client,
        query: Query,
        cursor: Mapping[str, Any],
        now: datetime,
        ctx: SourceContext | None = None,
    ) -> Page:
        ctx = ctx or SourceContext(self.platform, "https://news.google.com")
        url = search_url(query.query, ctx)
        return super().fetch(client, Query(query.topic, self.platform, url), cursor, now, ctx)
