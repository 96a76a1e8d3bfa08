"""The Mastodon connector against a loopback instance that speaks the documented contract."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.fakes.mastodon_server import MastodonFake
from tests.sources.harness import NOW, make_config, poll, polls, source, stored
from worker.storage.db import make_engine, make_sessionmaker

TOKEN = "mastodon-secret-token-123"


@pytest.fixture
def fake() -> Iterator[MastodonFake]:
    f = MastodonFake(prefix="/masto").start()
    f.clock = lambda: NOW
    yield f
    f.stop()


@pytest.fixture
def db(sqlite_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(sqlite_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def cfg(fake: MastodonFake, queries: list[str] | None = None, token: bool = False):  # type: ignore[no-untyped-def]
    table = {"base_url": fake.base_url}
    if token:
        table["token_env"] = "MASTODON_TOKEN"
    return make_config("mastodon", queries or ["#lumio"], table)


def fill(fake: MastodonFake, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        fake.add(f"<p>Lumio post {i}</p>", at=NOW - timedelta(hours=60) + timedelta(minutes=i))


def test_first_poll_reads_three_days_then_second_poll_is_incremental(
    fake: MastodonFake, db: sessionmaker[Session]
) -> None:
    fake.add("<p>too old</p>", at=NOW - timedelta(days=4))
    fill(fake, 95)
    (r,) = poll(db, cfg(fake), {})
    assert (r.health, r.fetched, r.new) == ("ok", 95, 95)
    assert len(fake.searches()) == 3  # 40 + 40 + 15, forward with min_id
    first_min = int(fake.searches()[0].param("min_id") or 0)
    assert first_min >> 16 == int((NOW - timedelta(days=3)).timestamp() * 1000)
    assert {m.text for m in stored(db, "mastodon")} == {f"Lumio post {i}" for i in range(95)}

    fill(fake, 3, start=95)
    before = len(fake.searches())
    (r2,) = poll(db, cfg(fake), {}, NOW + timedelta(minutes=5))
    assert (r2.fetched, r2.new) == (3, 3)
    req = fake.searches()[before]
    newest_before = max(int(s["id"]) for s in fake.statuses[:96])
    assert int(req.param("min_id") or 0) == newest_before  # does not re-read history
    assert len(stored(db, "mastodon")) == 98


def test_429_in_the_middle_of_paging_loses_nothing_and_stores_nothing_twice(
    fake: MastodonFake, db: sessionmaker[Session]
) -> None:
    fill(fake, 100)
    fake.fault("429", after=1)
    (r,) = poll(db, cfg(fake), {})
    assert r.health == "rate_limited" and (r.fetched, r.new) == (40, 40)
    src = source(db)
    # The reset header is an ISO time with microseconds; the next poll is after it.
    assert src.next_poll_at is not None and src.next_poll_at > NOW
    assert src.next_poll_at <= NOW + timedelta(minutes=5, seconds=2)
    # Polling again before the reset asks nothing: the shared budget is blocked.
    n = len(fake.requests)
    (early,) = poll(db, cfg(fake), {}, NOW + timedelta(seconds=10))
    assert early.health == "rate_limited" and len(fake.requests) == n
    (later,) = poll(db, cfg(fake), {}, NOW + timedelta(minutes=6))
    assert later.health == "ok" and later.new == 60
    ids = [m.external_id for m in stored(db, "mastodon")]
    assert len(ids) == len(set(ids)) == 100
    assert [p.health for p in polls(db)] == ["rate_limited", "rate_limited", "ok"]


def test_bad_token_is_auth_failed_naming_the_variable(
    fake: MastodonFake, db: sessionmaker[Session]
) -> None:
    fake.token = TOKEN
    fill(fake, 2)
    (r,) = poll(db, cfg(fake, token=True), {"MASTODON_TOKEN": "wrong-token"})
    assert r.health == "auth_failed" and "MASTODON_TOKEN" in r.detail
    assert "wrong-token" not in r.detail and stored(db, "mastodon") == []
    assert source(db).healthy is False
    (ok,) = poll(db, cfg(fake, token=True), {"MASTODON_TOKEN": TOKEN}, NOW + timedelta(hours=2))
    assert ok.health == "ok" and ok.new == 2


def test_status_search_needs_a_user_token(fake: MastodonFake, db: sessionmaker[Session]) -> None:
    fake.token = TOKEN
    fake.add("<p>I love lumio</p>", at=NOW - timedelta(hours=1), tags=())
    (r,) = poll(db, cfg(fake, ["lumio"]), {})
    assert r.health == "auth_failed" and "token" in r.detail
    (ok,) = poll(db, cfg(fake, ["lumio"], token=True), {"MASTODON_TOKEN": TOKEN}, NOW)
    assert ok.health == "ok" and [m.text for m in stored(db, "mastodon")] == ["I love lumio"]


def test_server_error_is_unavailable(fake: MastodonFake, db: sessionmaker[Session]) -> None:
    fill(fake, 2)
    fake.fault("500")
    (r,) = poll(db, cfg(fake), {})
    assert r.health == "unavailable" and "503" in r.detail and stored(db, "mastodon") == []


def test_malformed_body_is_bad_response_and_nothing_is_stored(
    fake: MastodonFake, db: sessionmaker[Session]
) -> None:
    fill(fake, 2)
    fake.fault("malformed")
    (r,) = poll(db, cfg(fake), {})
    assert r.health == "bad_response" and "not JSON" in r.detail
    assert stored(db, "mastodon") == [] and source(db).cursor == {}


def test_html_and_entities_become_plain_text(fake: MastodonFake, db: sessionmaker[Session]) -> None:
    fake.add(
        '<p>Third outage &amp; no reply &lt;sigh&gt; <a href="https://social.example/tags/lumio" '
        'class="mention hashtag" rel="tag">#<span>lumio</span></a></p><p>second&nbsp;para'
        "<script>alert(1)</script></p>",
        at=NOW - timedelta(minutes=3),
        acct="jdoe@other.example",
        followers=1840,
        favourites=30,
    )
    poll(db, cfg(fake), {})
    (m,) = stored(db, "mastodon")
    assert m.text == "Third outage & no reply <sigh> #lumio\nsecond para"
    assert (m.author, m.author_followers, m.likes, m.reposts, m.replies) == (
        "jdoe@other.example",
        1840,
        30,
        2,
        1,
    )
    assert m.url and m.url.startswith("https://other.example/@jdoe/")
