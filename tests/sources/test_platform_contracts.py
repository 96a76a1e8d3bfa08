"""Each platform's own contract and traps (platforms.md), against its loopback fake."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.fakes.bluesky_server import BlueskyFake
from tests.fakes.hackernews_server import HackerNewsFake
from tests.fakes.reddit_server import RedditFake
from tests.fakes.x_server import XFake
from tests.sources.harness import NOW, make_config, poll, stored
from tests.sources.kits import Kit, small_pages, started  # noqa: F401  (fixture)
from worker.storage.db import make_engine, make_sessionmaker

pytestmark = pytest.mark.usefixtures("small_pages")


@pytest.fixture
def db(sqlite_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(sqlite_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def bsky() -> Iterator[Kit]:
    yield from started("bluesky")


@pytest.fixture
def reddit() -> Iterator[Kit]:
    yield from started("reddit")


@pytest.fixture
def xk() -> Iterator[Kit]:
    yield from started("x")


@pytest.fixture
def hn() -> Iterator[Kit]:
    yield from started("hackernews")


def once(db: sessionmaker[Session], kit: Kit, now: datetime = NOW):  # type: ignore[no-untyped-def]
    (r,) = poll(db, make_config(kit.platform, kit.queries, kit.table), kit.env, now)
    return r


# --- Bluesky -----------------------------------------------------------------------------------


def test_bluesky_session_is_reused_and_refreshed_on_expired_token(
    bsky: Kit, db: sessionmaker[Session]
) -> None:
    fake = bsky.fake
    assert isinstance(fake, BlueskyFake)
    fake.add("lumio one", at=NOW - timedelta(minutes=5))
    assert once(db, bsky).new == 1
    fake.add("lumio two", at=NOW + timedelta(minutes=1))
    assert once(db, bsky, NOW + timedelta(minutes=5)).new == 1
    assert fake.sessions_created == 1  # one createSession, kept between polls
    fake.expire_tokens()  # two hours later: the access token answers 400 ExpiredToken
    fake.add("lumio three", at=NOW + timedelta(minutes=9))
    r = once(db, bsky, NOW + timedelta(minutes=10))
    assert (r.health, r.new) == ("ok", 1)
    paths = [q.path for q in fake.requests]
    assert paths.count("/xrpc/com.atproto.server.refreshSession") == 1
    assert paths.count("/xrpc/com.atproto.server.createSession") == 1
    search = fake.searches()[-1]
    assert search.param("sort") == "latest" and search.param("since")


def test_bluesky_maps_created_at_handle_and_the_post_page(
    bsky: Kit, db: sessionmaker[Session]
) -> None:
    fake = bsky.fake
    assert isinstance(fake, BlueskyFake)
    written = datetime(2026, 9, 1, 11, 20, 1, 123000, tzinfo=UTC)
    uri = fake.add(
        "@lumio.com support &amp; <b>billing</b> down for 3 hours",
        at=written,
        indexed_after=timedelta(minutes=7),
        likes=18,
    )
    once(db, bsky)
    (m,) = stored(db, "bluesky")
    assert m.external_id == uri and m.created_at == written  # record.createdAt, not indexedAt
    assert m.author == "jdoe.bsky.social" and m.likes == 18 and m.reposts == 5
    assert m.url == f"https://bsky.app/profile/jdoe.bsky.social/post/{uri.rsplit('/', 1)[-1]}"
    assert m.text == "@lumio.com support & billing down for 3 hours"


def test_bluesky_without_a_session_gets_the_public_hosts_html_403(bsky: Kit) -> None:
    import httpx

    with httpx.Client() as c:
        r = c.get(bsky.fake.base_url + "/xrpc/app.bsky.feed.searchPosts", params={"q": "x"})
    assert r.status_code == 403 and "text/html" in r.headers["content-type"]


# --- Reddit ------------------------------------------------------------------------------------


def test_reddit_skips_removed_posts_and_asks_raw_json_with_a_user_agent(
    reddit: Kit, db: sessionmaker[Session]
) -> None:
    fake = reddit.fake
    assert isinstance(fake, RedditFake)
    fake.add(
        "Lumio charged me twice & <i>support</i> ignores me",
        "Anyone else?",
        at=NOW - timedelta(minutes=9),
    )
    fake.add("lumio question", "[removed]", at=NOW - timedelta(minutes=8))
    fake.add("lumio rant", "[deleted]", at=NOW - timedelta(minutes=7))
    r = once(db, reddit)
    assert (r.health, r.fetched, r.new) == ("ok", 1, 1)
    (m,) = stored(db, "reddit")
    assert m.text == "Lumio charged me twice & support ignores me\n\nAnyone else?"
    assert m.url == f"https://www.reddit.com/r/personalfinance/comments/{m.external_id}/post/"
    assert m.author == "throwaway_42" and m.replies == 3
    search = fake.searches()[0]
    assert search.param("sort") == "new" and search.param("raw_json") == "1"
    assert search.headers["user-agent"].startswith("server:tocsin:")


def test_reddit_token_refusal_with_http_200_is_auth_failed(
    reddit: Kit, db: sessionmaker[Session]
) -> None:
    fake = reddit.fake
    assert isinstance(fake, RedditFake)
    fake.add("lumio", at=NOW - timedelta(minutes=1))
    (r,) = poll(db, make_config("reddit", ["lumio"], reddit.table), reddit.bad_env)
    assert r.health == "auth_failed" and "invalid_grant" in r.detail
    assert "R_ID/R_SECRET" in r.detail and fake.searches() == []


def test_reddit_remaining_as_a_float_and_reset_in_seconds_fill_the_budget(
    reddit: Kit, db: sessionmaker[Session]
) -> None:
    from worker.storage.models import SourceBudget

    fake = reddit.fake
    assert isinstance(fake, RedditFake)
    fake.add("lumio", at=NOW - timedelta(minutes=1))
    once(db, reddit)
    with db() as s:
        (b,) = s.query(SourceBudget).all()
    assert b.remaining == 999 and b.limit == 1000
    window_end = NOW + timedelta(seconds=600 - int(NOW.timestamp()) % 600)
    assert b.reset_at == window_end


# --- X -----------------------------------------------------------------------------------------


def test_x_since_id_zero_results_entities_and_authors(xk: Kit, db: sessionmaker[Session]) -> None:
    fake = xk.fake
    assert isinstance(fake, XFake)
    tid = fake.add(
        "@lumio my order vanished & <again>", at=NOW - timedelta(minutes=4), followers=5120, likes=9
    )
    r = once(db, xk)
    assert r.new == 1
    first = fake.searches()[0]
    assert first.param("start_time") and not first.param("since_id")
    assert "author_id" in (first.param("expansions") or "")
    (m,) = stored(db, "x")
    assert m.text == "@lumio my order vanished & <again>"
    assert (m.author, m.author_followers, m.likes, m.reposts) == ("jdoe", 5120, 9, 3)
    assert m.url == f"https://x.com/jdoe/status/{tid}"
    # Nothing new: the answer has no `data` key at all, which is fine.
    r2 = once(db, xk, NOW + timedelta(minutes=5))
    assert (r2.health, r2.fetched) == ("ok", 0)
    assert fake.searches()[-1].param("since_id") == tid


# --- Hacker News -------------------------------------------------------------------------------


def test_hackernews_stories_and_comments_html_and_same_second_items(
    hn: Kit, db: sessionmaker[Session]
) -> None:
    fake = hn.fake
    assert isinstance(fake, HackerNewsFake)
    t = NOW - timedelta(minutes=3)
    fake.add("Lumio&#x27;s API has been returning 500s <p>all <i>morning</i>", at=t)
    fake.add(
        "<p>Show HN text</p>",
        at=t - timedelta(minutes=1),
        kind="story",
        title="Show HN: Lumio &amp; friends",
    )
    assert once(db, hn).new == 2
    texts = sorted(m.text for m in stored(db, "hackernews"))
    assert texts == [
        "Lumio's API has been returning 500s\nall morning",
        "Show HN: Lumio & friends\n\nShow HN text",
    ]
    # Another item written in the very same second as the newest one seen, indexed later.
    fake.add("lumio again, same second", at=t)
    r = once(db, hn, NOW + timedelta(minutes=5))
    assert (r.fetched, r.new) == (1, 1)
    assert "created_at_i>=" in (fake.searches()[-1].param("numericFilters") or "")
    assert once(db, hn, NOW + timedelta(minutes=10)).fetched == 0
