"""YouTube's quota budget and comment threads, the App Store feed's single-object trap, and the
Google News query form, each against its loopback fake."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.fakes.appstore_server import AppStoreFake
from tests.fakes.rss_server import RSSServer, rss_feed
from tests.fakes.youtube_server import YouTubeFake
from tests.sources.harness import NOW, make_config, poll, source, stored
from worker.sources.schedule import poll_intervals, sync_sources
from worker.storage.db import make_engine, make_sessionmaker
from worker.storage.models import Source


@pytest.fixture
def db(sqlite_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(sqlite_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def yt() -> Iterator[YouTubeFake]:
    f = YouTubeFake(prefix="/g", key="AIza-k").start()
    f.clock = lambda: NOW
    yield f
    f.stop()


ENV = {"YT_KEY": "AIza-k"}


def test_youtube_search_quota_is_a_daily_budget_reset_at_midnight_pacific(
    yt: YouTubeFake, db: sessionmaker[Session]
) -> None:
    yt.add("Lumio X2 review", at=NOW - timedelta(hours=3))
    config = make_config(
        "youtube",
        ["lumio"],
        {"base_url": yt.base_url, "api_key_env": "YT_KEY", "search_calls_per_day": 2},
    )
    assert [r.health for r in poll(db, config, ENV)] == ["ok"]
    assert [r.health for r in poll(db, config, ENV, NOW + timedelta(minutes=30))] == ["ok"]
    calls = yt.search_calls
    (spent,) = poll(db, config, ENV, NOW + timedelta(hours=1))
    assert spent.health == "rate_limited" and yt.search_calls == calls  # not even asked
    midnight_pacific = datetime(2026, 9, 2, 7, 0, tzinfo=UTC)  # PDT is UTC-7
    assert source(db).next_poll_at == midnight_pacific + timedelta(seconds=1)
    (back,) = poll(db, config, ENV, midnight_pacific + timedelta(minutes=1))
    assert back.health == "ok"


def test_youtube_quota_exceeded_403_is_rate_limited_until_midnight_pacific(
    yt: YouTubeFake, db: sessionmaker[Session]
) -> None:
    yt.search_quota = 0
    config = make_config("youtube", ["lumio"], {"base_url": yt.base_url, "api_key_env": "YT_KEY"})
    (r,) = poll(db, config, ENV)
    assert r.health == "rate_limited" and "quota" in r.detail
    assert source(db).next_poll_at == datetime(2026, 9, 2, 7, 0, 1, tzinfo=UTC)


def test_youtube_polls_are_spaced_so_the_day_lasts(db: sessionmaker[Session]) -> None:
    config = make_config("youtube", ["lumio", "lumio lamp"], {"api_key_env": "YT_KEY"})
    with db.begin() as s:
        sync_sources(s, config)
        sources = list(s.query(Source))
        intervals = poll_intervals(s, config, sources)
    # 100 searches a day shared by two queries: one poll each every 86400 * 2 / 100 s.
    assert set(intervals.values()) == {1728.0}


def test_youtube_videos_and_channel_comments_as_plain_text(
    yt: YouTubeFake, db: sessionmaker[Session]
) -> None:
    vid = yt.add(
        "Lumio's X2 & the battery", "Swelled <b>after</b> a week", at=NOW - timedelta(hours=2)
    )
    cid = yt.add_comment("The Lumio X2 battery swelled after a week", at=NOW - timedelta(hours=1))
    config = make_config(
        "youtube", ["lumio", "channel:UClumio"], {"base_url": yt.base_url, "api_key_env": "YT_KEY"}
    )
    assert [r.new for r in poll(db, config, ENV)] == [1, 1]
    by_id = {m.external_id: m for m in stored(db, "youtube")}
    video, comment = by_id[vid], by_id[cid]
    assert video.text == "Lumio's X2 & the battery\n\nSwelled after a week"
    assert (
        video.url == f"https://www.youtube.com/watch?v={vid}" and video.author == "Gadget Reviews"
    )
    assert comment.text == "The Lumio X2 battery swelled after a week"
    assert (comment.author, comment.likes, comment.replies) == ("@jdoe", 41, 3)
    req = next(r for r in yt.searches() if r.path.endswith("commentThreads"))
    assert req.param("allThreadsRelatedToChannelId") == "UClumio" and req.param("order") == "time"
    search = next(r for r in yt.searches() if r.path.endswith("search"))
    assert (search.param("order"), search.param("type")) == ("date", "video")
    assert search.param("publishedAfter") == "2026-08-29T12:00:00Z"


def test_appstore_single_review_is_an_object_and_country_prefix_works(
    db: sessionmaker[Session],
) -> None:
    fake = AppStoreFake(prefix="/apple").start()
    try:
        rid = fake.add(
            "987",
            "Crashes on login",
            "Since the update &amp; it crashes",
            at=NOW - timedelta(hours=5),
            rating=1,
        )
        config = make_config("appstore", ["fr:987"], {"base_url": fake.base_url})
        (r,) = poll(db, config, {})
        assert (r.health, r.new) == ("ok", 1), r.detail
        assert (
            fake.requests[0].path == "/fr/rss/customerreviews/page=1/id=987/sortby=mostRecent/json"
        )
        (m,) = stored(db, "appstore")
        assert m.external_id == rid and m.author == "jdoe42"
        assert m.text == "Crashes on login\n\nSince the update & it crashes"
        assert m.extra["rating"] == 1
        # No reviews at all: `feed.entry` is missing, which is not an error.
        (empty,) = poll(db, make_config("appstore", ["555"], {"base_url": fake.base_url}), {})
        assert (empty.health, empty.fetched) == ("ok", 0)
    finally:
        fake.stop()


def test_google_news_query_form_builds_the_search_feed_and_uses_conditional_get(
    db: sessionmaker[Session],
) -> None:
    server = RSSServer().start()
    try:
        server.set_feed(
            "/rss/search",
            rss_feed(
                [
                    {
                        "title": "Lumio recalls X2 batteries - Example Times",
                        "link": "https://news.google.com/rss/articles/CBMi1?oc=5",
                        "guid": "CBMi1",
                        "pubDate": NOW - timedelta(hours=1),
                        "description": '<a href="https://x.example">Lumio recalls X2 batteries</a>',
                        "source": {"url": "https://www.example-times.com", "name": "Example Times"},
                    }
                ]
            ),
        )
        config = make_config("googlenews", ['"lumio" when:1d'], {"base_url": server.url("")})
        (r,) = poll(db, config, {})
        assert (r.health, r.new) == ("ok", 1), r.detail
        first = server.requests[0].path
        assert first.startswith("/rss/search?q=%22lumio%22+when%3A1d&hl=en-US&gl=US&ceid=US%3Aen")
        (m,) = stored(db, "googlenews")
        assert (
            m.text.startswith("Lumio recalls X2 batteries - Example Times") and "<a" not in m.text
        )
        (again,) = poll(db, config, {}, NOW + timedelta(minutes=5))
        assert again.health == "ok" and server.requests[-1].status == 304
    finally:
        server.stop()
