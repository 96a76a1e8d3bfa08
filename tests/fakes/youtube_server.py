"""YouTube Data API v3 on loopback (platforms.md §6): `search` and `commentThreads`.

- `key=` is required: a wrong one is 400 with `"API key not valid. Please pass a valid API key."`
  (reason `badRequest`, status `INVALID_ARGUMENT`).
- `search?part=snippet&type=video&order=date&q=…&publishedAfter=…&maxResults=…&pageToken=…`,
  newest first, `nextPageToken` while more; titles come HTML-escaped (`&#39;`, `&amp;`).
- `commentThreads?part=snippet&allThreadsRelatedToChannelId=…&order=time&textFormat=plainText`.
- No quota headers. Over quota is **HTTP 403** with reason `quotaExceeded` (not 429); the fake
  also counts search calls and refuses past `search_quota` a day.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

from tests.fakes.platform import Answer, PlatformFake, Request, js

QUOTA_MESSAGE = (
    'The request cannot be completed because you have exceeded your <a href="/youtube/v3/'
    'getting-started#quota">quota</a>.'
)


def google_error(code: int, message: str, reason: str, domain: str = "youtube.quota") -> Answer:
    return js(
        code,
        {
            "error": {
                "code": code,
                "message": message,
                "errors": [{"message": message, "domain": domain, "reason": reason}],
            }
        },
    )


class YouTubeFake(PlatformFake):
    search_paths = ("/youtube/v3/search", "/youtube/v3/commentThreads")

    def __init__(self, prefix: str = "", key: str = "", search_quota: int = 100) -> None:
        super().__init__(prefix)
        self.key = key
        self.search_quota = search_quota
        self.search_calls = 0
        self.videos: list[dict[str, Any]] = []
        self.threads: list[dict[str, Any]] = []
        self._n = 0

    def add(
        self, title: str, description: str = "", *, at: datetime, channel: str = "Gadget Reviews"
    ) -> str:
        self._n += 1
        vid = f"vid{self._n:08d}"
        self.videos.append(
            {
                "kind": "youtube#searchResult",
                "etag": f"e{self._n}",
                "id": {"kind": "youtube#video", "videoId": vid},
                "snippet": {
                    "publishedAt": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "channelId": "UCreviews",
                    "title": html.escape(title),
                    "description": description,
                    "thumbnails": {},
                    "channelTitle": channel,
                    "liveBroadcastContent": "none",
                    "publishTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                },
            }
        )
        return vid

    def add_comment(
        self, text: str, *, at: datetime, channel: str = "UClumio", video: str = "dQw4w9WgXcQ"
    ) -> str:
        self._n += 1
        cid = f"Ugz{self._n:08d}"
        snippet = {
            "channelId": channel,
            "videoId": video,
            "textDisplay": html.escape(text),
            "textOriginal": text,
            "authorDisplayName": "@jdoe",
            "authorChannelUrl": "http://www.youtube.com/@jdoe",
            "authorChannelId": {"value": "UCjdoe"},
            "canRate": True,
            "viewerRating": "none",
            "likeCount": 41,
            "publishedAt": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "updatedAt": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        self.threads.append(
            {
                "kind": "youtube#commentThread",
                "etag": f"e{self._n}",
                "id": cid,
                "snippet": {
                    "channelId": channel,
                    "videoId": video,
                    "canReply": True,
                    "totalReplyCount": 3,
                    "isPublic": True,
                    "topLevelComment": {"kind": "youtube#comment", "id": cid, "snippet": snippet},
                },
            }
        )
        return cid

    def too_many(self, req: Request) -> Answer:
        return google_error(403, QUOTA_MESSAGE, "quotaExceeded")

    def unauthorized(self, req: Request) -> Answer:
        msg = "API key not valid. Please pass a valid API key."
        answer = google_error(400, msg, "badRequest", "global")
        return answer

    def server_error(self, req: Request) -> Answer:
        return google_error(503, "The service is currently unavailable.", "backendError", "global")

    def handle(self, req: Request) -> Answer:
        if req.param("key") != self.key:
            return self.unauthorized(req)
        if req.path == "/youtube/v3/search":
            self.search_calls += 1
            if self.search_calls > self.search_quota:
                return self.too_many(req)
            q = (req.param("q") or "").lower()
            found = [
                v
                for v in self.videos
                if q in (v["snippet"]["title"] + v["snippet"]["description"]).lower()
                and v["snippet"]["publishedAt"] > (req.param("publishedAfter") or "")
            ]
            found.sort(key=lambda v: v["snippet"]["publishedAt"], reverse=True)
            return self._page(req, found, "youtube#searchListResponse", 50)
        if req.path == "/youtube/v3/commentThreads":
            channel = req.param("allThreadsRelatedToChannelId")
            found = [t for t in self.threads if t["snippet"]["channelId"] == channel]
            found.sort(
                key=lambda t: t["snippet"]["topLevelComment"]["snippet"]["publishedAt"],
                reverse=True,
            )
            return self._page(req, found, "youtube#commentThreadListResponse", 100)
        return google_error(404, "Not Found", "notFound", "global")

    def _page(self, req: Request, found: list[dict[str, Any]], kind: str, most: int) -> Answer:
        per = min(int(req.param("maxResults") or 5), most)
        token = req.param("pageToken")
        start = int(token.removeprefix("CAo")) if token else 0
        items = found[start : start + per]
        data: dict[str, Any] = {
            "kind": kind,
            "etag": "x1Y2z3",
            "pageInfo": {"totalResults": len(found), "resultsPerPage": per},
            "items": items,
        }
        if start + per < len(found):
            data["nextPageToken"] = f"CAo{start + per}"
        return js(200, data)
