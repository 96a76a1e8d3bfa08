"""X API v2 recent search with an app-only bearer token (platforms.md §4).

1. `GET {base_url}/2/tweets/search/recent?query=…&since_id=S&max_results=100` with expansions
   for authors (username, followers) and public metrics; the first poll of a query asks for
   `start_time` = 3 days ago instead.
2. A `next_token` means more pages: they are fetched with **the same since_id** plus the token.
3. `meta.newest_id` of the **first** page becomes the next since_id, and it is committed only with
   the last page: between pages the cursor holds the token and the pending id, so a 429 in the
   middle resumes from the token, and nothing is lost or read twice.

No match answers `{"meta":{"result_count":0}}` without `data`. Rate limits: epoch-second
`x-rate-limit-reset`. Field names: the classic ones (`retweet_count`), with the newer
`repost_count` read too.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx

from worker.model import Mention, Page
from worker.sources import ratelimit
from worker.sources.base import PayloadError, Query, SourceContext
from worker.sources.budget import Budget
from worker.sources.common import BASELINE, count, iso, obj, parse_time
from worker.sources.http import expect, fail, json_body, send
from worker.sources.text import plain

TWEET_FIELDS = (
    "created_at,lang,public_metrics,conversation_id,in_reply_to_user_id,referenced_tweets,author_id"
)
PER_PAGE = 100
USER_FIELDS = "username,name,public_metrics,verified"


class XConnector:
    platform = "x"

    def budget(self, query: Query, ctx: SourceContext) -> Budget:
        return Budget(
            key=f"x:{ctx.base_url}:{ctx.options.get('token_env')}", platform=self.platform
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
            self.platform, "https://api.x.com", {"token_env": "X_BEARER_TOKEN"}
        )
        token = ctx.secret("token_env", "bearer token")
        paging = dict(cursor.get("paging") or {})
        params: dict[str, Any] = {
            "query": query.query,
            "max_results": PER_PAGE,
            "expansions": "author_id",
            "tweet.fields": TWEET_FIELDS,
            "user.fields": USER_FIELDS,
        }
        if cursor.get("since_id"):
            params["since_id"] = cursor["since_id"]
        else:
            params["start_time"] = paging.get("start_time") or iso(
                (now - BASELINE).replace(microsecond=0)
            )
        if paging.get("next_token"):
            params["next_token"] = paging["next_token"]
        what = f"x search {query.query!r}"
        response = send(
            client,
            "GET",
            ctx.url("/2/tweets/search/recent"),
            what,
            params=params,
            headers={"Authorization": f"Bearer {token}"},
        )
        rl = ratelimit.x(response.headers, now)
        if response.status_code != 200:
            raise fail(
                response,
                what,
                rl,
                auth_hint=f"the bearer token in {ctx.options.get('token_env')} was refused",
            )
        data = json_body(response, what)
        expect(isinstance(data, dict) and isinstance(data.get("meta"), dict), what, "no meta")
        tweets = data.get("data") or []
        expect(isinstance(tweets, list), what, "data is not a list")
        includes = obj(data.get("includes"))
        users = {u.get("id"): u for u in includes.get("users") or [] if isinstance(u, dict)}
        mentions = [self._mention(t, users, query, what) for t in tweets]
        meta = data["meta"]
        # The since_id of the next poll is the newest id of the first page only.
        newest = paging.get("newest_id") if paging else meta.get("newest_id")
        if newest is None and tweets and not paging:
            newest = max((str(t["id"]) for t in tweets), key=lambda v: (len(v), v))
        next_token = meta.get("next_token")
        new_cursor = {k: v for k, v in cursor.items() if k != "paging"}
        if next_token:
            new_cursor["paging"] = {
                "next_token": next_token,
                "newest_id": newest,
                **({"start_time": params["start_time"]} if "start_time" in params else {}),
            }
            return Page(mentions=mentions, cursor=new_cursor, rate_limit=rl, more=True)
        if newest:
            new_cursor["since_id"] = str(newest)
        return Page(mentions=mentions, cursor=new_cursor, rate_limit=rl)

    def _mention(self, tweet: Any, users: Mapping[Any, Any], query: Query, what: str) -> Mention:
        if not isinstance(tweet, dict) or not isinstance(tweet.get("id"), str):
            raise PayloadError(f"{what}: a post without a string id")
        user = obj(users.get(tweet.get("author_id")))
        username = user.get("username")
        metrics = obj(tweet.get("public_metrics"))
        umetrics = obj(user.get("public_metrics"))
        reply_to = next(
            (
                r.get("id")
                for r in tweet.get("referenced_tweets") or []
                if isinstance(r, dict) and r.get("type") == "replied_to"
            ),
            None,
        )
        return Mention(
            platform=self.platform,
            id=tweet["id"],
            created_at=parse_time(tweet.get("created_at"), f"{what}: post {tweet['id']}"),
            text=plain(tweet.get("text")),
            url=f"https://x.com/{username or 'i/web'}/status/{tweet['id']}",
            author=username,
            author_followers=count(umetrics.get("followers_count")) if umetrics else None,
            lang=tweet.get("lang"),
            likes=count(metrics.get("like_count")),
            reposts=count(metrics.get("retweet_count", metrics.get("repost_count"))),
            replies=count(metrics.get("reply_count")),
            topic=query.topic,
            in_reply_to=reply_to,
            extra={"quotes": count(metrics.get("quote_count"))},
        )
