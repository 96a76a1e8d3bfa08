"""Hacker News search (Algolia) on loopback (platforms.md §5): `/api/v1/search_by_date`.

- `query`, `tags` (`(story,comment)`), `numericFilters` on `created_at_i` with `< <= = > >=`
  (comma = AND), `page` from 0, `hitsPerPage`; newest first. Meta: nbHits, page, nbPages,
  hitsPerPage, processingTimeMS, query, params. No auth, no rate-limit headers.
- Comment text is HTML (`&#x27;`, `<p>`); stories carry `title` and maybe `story_text`.
- A 429 (UNCERTAIN shape): `{"message":"Too many requests","status":429}`.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from tests.fakes.platform import Answer, PlatformFake, Request, js

_FILTER = re.compile(r"^(created_at_i|points|num_comments)(<=|>=|<|>|=)(\d+)$")


class HackerNewsFake(PlatformFake):
    search_paths = ("/api/v1/search_by_date",)

    def __init__(self, prefix: str = "") -> None:
        super().__init__(prefix)
        self.hits: list[dict[str, Any]] = []
        self._n = 41500000

    def add(
        self,
        text: str,
        *,
        at: datetime,
        kind: str = "comment",
        title: str | None = None,
        author: str = "pg",
    ) -> str:
        self._n += 1
        oid = str(self._n)
        ts = int(at.timestamp())
        hit: dict[str, Any] = {
            "objectID": oid,
            "created_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "created_at_i": ts,
            "author": author,
            "title": title if kind == "story" else None,
            "url": None,
            "points": 7 if kind == "story" else None,
            "story_text": text if kind == "story" else None,
            "comment_text": text if kind == "comment" else None,
            "num_comments": 2 if kind == "story" else None,
            "story_id": 41499000,
            "story_title": "Ask HN: Is Lumio down?",
            "story_url": None,
            "parent_id": 41499000 if kind == "comment" else None,
            "_tags": [kind, f"author_{author}", "story_41499000"],
        }
        self.hits.append(hit)
        return oid

    def too_many(self, req: Request) -> Answer:
        return js(429, {"message": "Too many requests", "status": 429})

    def unauthorized(self, req: Request) -> Answer:
        return js(403, {"message": "Forbidden", "status": 403})

    def server_error(self, req: Request) -> Answer:
        return js(500, {"message": "Internal error", "status": 500})

    def handle(self, req: Request) -> Answer:
        if req.path != "/api/v1/search_by_date":
            return js(404, {"message": "Not Found", "status": 404})
        q = (req.param("query") or "").lower()
        found = [
            h
            for h in self.hits
            if q
            in ((h["title"] or "") + (h["story_text"] or "") + (h["comment_text"] or "")).lower()
        ]
        for part in (req.param("numericFilters") or "").split(","):
            m = _FILTER.match(part.strip())
            if not part.strip():
                continue
            if not m:
                return js(400, {"message": f"invalid numericFilters {part!r}", "status": 400})
            field, op, value = m.group(1), m.group(2), int(m.group(3))
            ops = {
                "<": lambda a, b: a < b,
                "<=": lambda a, b: a <= b,
                ">": lambda a, b: a > b,
                ">=": lambda a, b: a >= b,
                "=": lambda a, b: a == b,
            }
            found = [h for h in found if h[field] is not None and ops[op](h[field], value)]
        found.sort(key=lambda h: (h["created_at_i"], h["objectID"]), reverse=True)
        per = int(req.param("hitsPerPage") or 20)
        page = int(req.param("page") or 0)
        hits = found[page * per : (page + 1) * per]
        pages = (len(found) + per - 1) // per
        return js(
            200,
            {
                "hits": hits,
                "nbHits": len(found),
                "page": page,
                "nbPages": pages,
                "hitsPerPage": per,
                "processingTimeMS": 1,
                "query": req.param("query"),
                "params": "",
            },
        )
