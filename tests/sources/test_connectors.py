"""The guarantees every polled connector keeps, proved on each platform against its loopback
fake, through the real `poll_source` into a real SQLite database:

- the first poll reads the 3-day baseline, paging; the second poll asks only for what is new;
- a 429 in the middle of paging keeps the pages already stored, the next poll waits for the
  reset and then loses nothing and stores nothing twice;
- refused credentials are `auth_failed` naming the variable (never the secret);
- a 5xx is `unavailable`; a malformed body is `bad_response` and stores nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.sources.harness import NOW, make_config, poll, polls, source, stored
from tests.sources.kits import KITS, PAGE, Kit, started
from worker.config import Config
from worker.storage.db import make_engine, make_sessionmaker

pytestmark = pytest.mark.usefixtures("small_pages")
from tests.sources.kits import small_pages  # noqa: E402,F401  (fixture)


@pytest.fixture(params=sorted(KITS))
def kit(request: pytest.FixtureRequest) -> Iterator[Kit]:
    yield from started(request.param)


@pytest.fixture
def db(sqlite_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(sqlite_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def cfg(kit: Kit) -> Config:
    return make_config(kit.platform, kit.queries, kit.table)


def publish(kit: Kit, n: int, start: int = 0, newest: timedelta = timedelta(minutes=2)) -> None:
    """Posts start..start+n-1, one a minute, the last one `newest` before NOW."""
    for i in range(start, start + n):
        kit.add(i, NOW - newest - timedelta(minutes=start + n - 1 - i))


def test_first_poll_pages_through_the_baseline_and_the_second_is_incremental(
    kit: Kit, db: sessionmaker[Session]
) -> None:
    kit.add(-1, NOW - timedelta(days=3, hours=2))  # older than the baseline
    publish(kit, 2 * PAGE + 5, newest=timedelta(hours=50))
    (r,) = poll(db, cfg(kit), kit.env)
    assert (r.health, r.fetched, r.new) == ("ok", 2 * PAGE + 5, 2 * PAGE + 5), r.detail
    assert len(kit.fake.searches()) >= 3
    texts = {m.text.split("\n")[0] for m in stored(db, kit.platform)}
    assert texts == {f"lumio post {i}" for i in range(2 * PAGE + 5)}

    publish(kit, 3, start=100, newest=timedelta(minutes=1))
    before = len(kit.fake.searches())
    (r2,) = poll(db, cfg(kit), kit.env, NOW + timedelta(minutes=5))
    assert (r2.health, r2.new) == ("ok", 3), r2.detail
    asked = kit.fake.searches()[before:]
    assert len(asked) == 1, "the second poll reads one page, not the history again"
    assert len(stored(db, kit.platform)) == 2 * PAGE + 8


def test_429_mid_paging_keeps_pages_then_catches_up_once(
    kit: Kit, db: sessionmaker[Session]
) -> None:
    publish(kit, 3 * PAGE + 4)
    kit.fake.fault("429", after=1)
    (r,) = poll(db, cfg(kit), kit.env)
    assert r.health == "rate_limited", r.detail
    assert r.new == PAGE and len(stored(db, kit.platform)) == PAGE
    src = source(db)
    assert src.next_poll_at is not None and src.next_poll_at > NOW
    # New posts arrive while we wait; nothing is lost either way.
    publish(kit, 2, start=200, newest=timedelta(seconds=30))
    (later,) = poll(db, cfg(kit), kit.env, NOW + kit.reset + timedelta(minutes=1))
    assert later.health == "ok", later.detail
    # The interrupted paging finished first; posts newer than its first page come next poll.
    (next_,) = poll(db, cfg(kit), kit.env, NOW + kit.reset + timedelta(minutes=6))
    assert next_.health == "ok", next_.detail
    ids = [m.external_id for m in stored(db, kit.platform)]
    assert len(ids) == len(set(ids)) == 3 * PAGE + 6
    assert later.new + next_.new == 2 * PAGE + 6
    assert [p.health for p in polls(db)] == ["rate_limited", "ok", "ok"]


def test_refused_credentials_are_auth_failed_without_the_secret(
    kit: Kit, db: sessionmaker[Session]
) -> None:
    publish(kit, 2)
    if not kit.env:
        # HN search and the App Store feed take no credentials: a poll without any works.
        (r,) = poll(db, cfg(kit), {})
        assert r.health == "ok" and r.new == 2
        return
    (r,) = poll(db, cfg(kit), kit.bad_env)
    assert r.health == "auth_failed", r.detail
    assert any(name in r.detail for name in kit.env) or "refused" in r.detail
    assert not any(secret in r.detail for secret in kit.secrets)
    assert stored(db, kit.platform) == [] and source(db).healthy is False
    (missing,) = poll(db, cfg(kit), {}, NOW + timedelta(hours=2))
    assert missing.health == "auth_failed"
    assert any(name in missing.detail for name in kit.env), missing.detail


def test_server_error_is_unavailable(kit: Kit, db: sessionmaker[Session]) -> None:
    publish(kit, 2)
    kit.fake.fault("500")
    (r,) = poll(db, cfg(kit), kit.env)
    assert r.health == "unavailable" and stored(db, kit.platform) == [], r.detail
    (again,) = poll(db, cfg(kit), kit.env, NOW + timedelta(hours=2))
    assert again.health == "ok" and again.new == 2


def test_malformed_body_is_bad_response_and_stores_nothing(
    kit: Kit, db: sessionmaker[Session]
) -> None:
    publish(kit, 2)
    kit.fake.fault("malformed")
    (r,) = poll(db, cfg(kit), kit.env)
    assert r.health == "bad_response" and "not JSON" in r.detail, r.detail
    assert stored(db, kit.platform) == [] and source(db).cursor == {}
