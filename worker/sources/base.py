"""The connector seam: every platform is one small module with one `fetch()`.

`fetch(client, query, cursor, now) -> Page` returns the mentions found since `cursor` and the
cursor to resume from. It raises `SourceError` for what the platform refused (`permanent` for
configuration or credential problems, transient for rate limits and outages) and `PayloadError`
for a response it could not understand: the cursor never advances past data that was not stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import httpx

from worker.model import Page


@dataclass(frozen=True)
class Query:
    """What to poll: for `rss` the feed URL; for social platforms a search string or hashtag."""

    topic: str
    platform: str
    query: str


class Connector(Protocol):
    platform: str

    def fetch(
        self, client: httpx.Client, query: Query, cursor: Mapping[str, Any], now: datetime
    ) -> Page: ...


class SourceError(Exception):
    """The platform refused or failed. `permanent` errors need a person (bad URL, bad token)."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.status = status
        self.retry_after_s = retry_after_s


class PayloadError(SourceError):
    """A response we could not parse; reported with the reason, and the cursor stays put."""
