"""The connector seam: every platform is one small module with one `fetch()`.

`fetch(client, query, cursor, now, ctx) -> Page` returns one page of mentions found since `cursor`
and the cursor to resume from (`Page.more` when another page is waiting). It raises `SourceError`
for what the platform refused and `PayloadError` for a response it could not understand: the
cursor never advances past data that was not stored, because only the ingest transaction moves it.

Every failure carries one of the five health words (`HEALTH`): ok, rate_limited, auth_failed,
unavailable, bad_response. `ctx` carries the platform's `[sources.NAME]` settings and the
environment the secrets are read from; messages never contain a secret.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import httpx

from worker.model import Page, RateLimit

OK, RATE_LIMITED, AUTH_FAILED, UNAVAILABLE, BAD_RESPONSE = (
    "ok",
    "rate_limited",
    "auth_failed",
    "unavailable",
    "bad_response",
)
HEALTH = (OK, RATE_LIMITED, AUTH_FAILED, UNAVAILABLE, BAD_RESPONSE)


@dataclass(frozen=True)
class Query:
    """What to poll: for `rss` the feed URL; for social platforms a search string or hashtag."""

    topic: str
    platform: str
    query: str


@dataclass(frozen=True)
class SourceContext:
    """A platform's settings (`[sources.NAME]`, defaults filled in) and where secrets come from."""

    platform: str
    base_url: str
    options: Mapping[str, Any] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=lambda: os.environ)

    def url(self, path: str, *, base: str | None = None) -> str:
        """The documented `path` appended to the base URL (which may carry a path prefix)."""
        return (base or self.base_url).rstrip("/") + "/" + path.lstrip("/")

    def secret(self, option: str, what: str) -> str:
        """The secret in the environment variable named by `options[option]`.

        A missing variable is an `auth_failed` SourceError naming the variable, never its value.
        """
        name = str(self.options.get(option) or "")
        if not name:
            raise SourceError(
                f"{self.platform}: {what} needed: set sources.{self.platform}.{option} "
                "in tocsin.toml to the name of an environment variable",
                permanent=True,
                health=AUTH_FAILED,
            )
        value = self.env.get(name, "")
        if not value:
            raise SourceError(
                f"{self.platform}: {what} missing: environment variable {name} is not set",
                permanent=True,
                health=AUTH_FAILED,
            )
        return value

    def has(self, option: str) -> bool:
        name = str(self.options.get(option) or "")
        return bool(name and self.env.get(name))


class Connector(Protocol):
    platform: str

    def fetch(
        self,
        client: httpx.Client,
        query: Query,
        cursor: Mapping[str, Any],
        now: datetime,
        ctx: SourceContext | None = None,
    ) -> Page: ...


class SourceError(Exception):
    """The platform refused or failed. `permanent` errors need a person (bad URL, bad token).

    `health` is the word shown for the source; without one it is derived from the status.
    `rate_limit` is what the platform said about the budget when it refused (reset time).
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        status: int | None = None,
        retry_after_s: float | None = None,
        health: str | None = None,
        rate_limit: RateLimit | None = None,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.status = status
        self.retry_after_s = retry_after_s
        self.rate_limit = rate_limit
        if health is None:
            if status == 429:
                health = RATE_LIMITED
            elif status in (401, 403):
                health = AUTH_FAILED
            else:
                health = UNAVAILABLE
        assert health in HEALTH, health
        self.health = health


class PayloadError(SourceError):
    """A response we could not parse; reported with the reason, and the cursor stays put."""

    def __init__(self, message: str, **kwargs: Any) -> None:
        kwargs.setdefault("health", BAD_RESPONSE)
        super().__init__(message, **kwargs)
