"""One kit per platform: its loopback fake, the `[sources.NAME]` table pointing at it, good and
bad credentials, and how to publish post number i. `test_connectors.py` runs the same
guarantees over every kit; each platform's own test file checks its particular contract."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.fakes.appstore_server import AppStoreFake
from tests.fakes.bluesky_server import BlueskyFake
from tests.fakes.hackernews_server import HackerNewsFake
from tests.fakes.platform import PlatformFake
from tests.fakes.reddit_server import RedditFake
from tests.fakes.x_server import XFake
from tests.fakes.youtube_server import YouTubeFake
from tests.sources.harness import NOW
from worker.sources import appstore, bluesky, hackernews, reddit, x, youtube

#: Small pages so that paging is exercised with few posts (each fake honours the parameter).
PAGE = 10


@dataclass
class Kit:
    platform: str
    fake: PlatformFake
    table: dict[str, Any]
    env: dict[str, str]
    bad_env: dict[str, str]
    add: Callable[[int, datetime], Any]
    queries: list[str] = field(default_factory=lambda: ["lumio"])
    #: The secret values, which must never appear in a detail.
    secrets: tuple[str, ...] = ()
    #: How long after a refusal the budget is certainly back.
    reset: timedelta = timedelta(hours=1)


def bluesky_kit() -> Kit:
    fake = BlueskyFake(prefix="/pds", identifier="lumio.bsky.social", password="app-pass-1234")
    return Kit(
        "bluesky",
        fake,
        {"identifier_env": "BSKY_ID", "app_password_env": "BSKY_PASS"},
        {"BSKY_ID": "lumio.bsky.social", "BSKY_PASS": "app-pass-1234"},
        {"BSKY_ID": "lumio.bsky.social", "BSKY_PASS": "wrong-pass-999"},
        lambda i, at: fake.add(f"lumio post {i}", at=at),
        secrets=("app-pass-1234", "wrong-pass-999"),
    )


def reddit_kit() -> Kit:
    fake = RedditFake(client_id="cid-123", secret="csecret-456")
    kit = Kit(
        "reddit",
        fake,
        {"client_id_env": "R_ID", "client_secret_env": "R_SECRET"},
        {"R_ID": "cid-123", "R_SECRET": "csecret-456"},
        {"R_ID": "cid-123", "R_SECRET": "nope-789"},
        lambda i, at: fake.add(f"lumio post {i}", f"body {i}", at=at),
        secrets=("csecret-456", "nope-789"),
    )
    return kit


def x_kit() -> Kit:
    fake = XFake(prefix="/x", token="AAAA-bearer-xyz")
    return Kit(
        "x",
        fake,
        {"token_env": "X_TOKEN"},
        {"X_TOKEN": "AAAA-bearer-xyz"},
        {"X_TOKEN": "AAAA-wrong"},
        lambda i, at: fake.add(f"lumio post {i}", at=at),
        queries=["lumio -is:retweet"],
        secrets=("AAAA-bearer-xyz", "AAAA-wrong"),
    )


def hackernews_kit() -> Kit:
    fake = HackerNewsFake(prefix="/hn")
    return Kit(
        "hackernews",
        fake,
        {},
        {},
        {},
        lambda i, at: fake.add(f"lumio post {i}", at=at),
    )


def youtube_kit() -> Kit:
    fake = YouTubeFake(prefix="/google", key="AIza-test-key")
    return Kit(
        "youtube",
        fake,
        {"api_key_env": "YT_KEY"},
        {"YT_KEY": "AIza-test-key"},
        {"YT_KEY": "AIza-wrong-key"},
        lambda i, at: fake.add(f"lumio post {i}", f"review number {i}", at=at),
        secrets=("AIza-test-key", "AIza-wrong-key"),
        # Over quota: until midnight Pacific (NOW is 05:00 in Los Angeles).
        reset=timedelta(hours=20),
    )


def appstore_kit() -> Kit:
    fake = AppStoreFake(prefix="/apple", page_size=PAGE)
    return Kit(
        "appstore",
        fake,
        {},
        {},
        {},
        lambda i, at: fake.add("123456789", f"lumio post {i}", f"body {i}", at=at),
        queries=["123456789"],
    )


KITS = {
    "youtube": youtube_kit,
    "appstore": appstore_kit,
    "bluesky": bluesky_kit,
    "reddit": reddit_kit,
    "x": x_kit,
    "hackernews": hackernews_kit,
}


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bluesky, "LIMIT", PAGE)
    monkeypatch.setattr(reddit, "LIMIT", PAGE)
    monkeypatch.setattr(x, "PER_PAGE", PAGE)
    monkeypatch.setattr(hackernews, "HITS", PAGE)
    monkeypatch.setattr(youtube, "MAX_RESULTS", PAGE)
    monkeypatch.setattr(appstore, "PAGE_SIZE", PAGE)
    bluesky.forget_sessions()
    reddit.forget_tokens()


def started(name: str) -> Iterator[Kit]:
    kit = KITS[name]()
    kit.fake.start()
    kit.fake.clock = lambda: NOW
    if name == "reddit":
        assert isinstance(kit.fake, RedditFake)
        kit.table.update(base_url=kit.fake.oauth_url, auth_url=kit.fake.auth_url)
    else:
        kit.table["base_url"] = kit.fake.base_url
    yield kit
    kit.fake.stop()
