"""The polling schedule: polls spread over the interval, one budget shared by the topics that use
the same credentials, and source health as silence detection reads it (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import worker.pipeline as pipeline
from tests.fakes.x_server import XFake
from tests.sources.harness import NOW
from worker.config import parse_config
from worker.sources import schedule
from worker.sources.poll import poll_all
from worker.sources.schedule import (
    claim_due_sources,
    record_poll_failure,
    record_poll_success,
    source_health,
    sync_sources,
)
from worker.storage.models import PollRow, Source


def many_topics(n: int) -> str:
    return "\n".join(
        f'[[topics]]\nname = "t{i}"\n[topics.queries]\nhackernews = ["brand{i}"]\n'
        for i in range(n)
    )


def test_pipeline_keeps_its_names() -> None:
    assert pipeline.sync_sources is schedule.sync_sources
    assert pipeline.claim_due_sources is schedule.claim_due_sources
    assert pipeline.record_poll_failure is schedule.record_poll_failure
    assert pipeline.source_health is schedule.source_health


def test_polls_of_many_topics_are_spread_over_the_interval(sessions: sessionmaker[Session]) -> None:
    config = parse_config(many_topics(100))
    with sessions.begin() as s:
        sync_sources(s, config)
        assert claim_due_sources(s, config, NOW) == []  # new sources get a slot, not a herd
    with sessions() as s:
        slots = [src.next_poll_at for src in s.scalars(select(Source))]
    assert all(NOW < t <= NOW + timedelta(seconds=300) for t in slots if t)
    per_half_minute = Counter(int((t - NOW).total_seconds()) // 30 for t in slots if t)
    assert len(per_half_minute) == 10 and max(per_half_minute.values()) <= 20
    # Each tick claims only what is due, and a source once.
    claimed = []
    for k in range(11):
        with sessions.begin() as s:
            got = claim_due_sources(s, config, NOW + timedelta(seconds=30 * k), limit=500)
        assert len(got) <= 20
        claimed += got
    assert sorted(claimed) == sorted(set(claimed)) and len(claimed) == 100
    with sessions.begin() as s:  # the same instant again: nothing left to claim
        assert claim_due_sources(s, config, NOW + timedelta(seconds=300), limit=500) == []


def test_health_words_drive_source_health(sessions: sessionmaker[Session]) -> None:
    config = parse_config('[[topics]]\nname = "lumio"\n[topics.queries]\nx = ["lumio"]\n')
    with sessions.begin() as s:
        (sid,) = sync_sources(s, config)
    kw = {"permanent": False, "retry_after_s": None, "poll_seconds": 300}
    with sessions.begin() as s:
        record_poll_failure(s, sid, NOW, "HTTP 503", health="unavailable", **kw)
        record_poll_failure(s, sid, NOW, "429", health="rate_limited", **kw)
        assert source_health(s, "lumio") == {"x": True}  # two transient failures: noise
        record_poll_failure(s, sid, NOW, "HTTP 503", health="unavailable", **kw)
        assert source_health(s, "lumio") == {"x": False}
        record_poll_success(s, sid, NOW, fetched=1, new=1)
        assert source_health(s, "lumio") == {"x": True}
        record_poll_failure(s, sid, NOW, "token refused", health="auth_failed", **kw)
        assert source_health(s, "lumio") == {"x": False}  # at once
    with sessions() as s:
        src = s.get(Source, sid)
        assert src is not None and src.health == "auth_failed" and src.last_success_at == NOW
        words = [p.health for p in s.scalars(select(PollRow).order_by(PollRow.id))]
    assert words == ["unavailable", "rate_limited", "unavailable", "ok", "auth_failed"]


@pytest.fixture
def xfake() -> Iterator[XFake]:
    f = XFake(prefix="/x", token="shared").start()
    f.clock = lambda: NOW
    yield f
    f.stop()


def test_topics_on_the_same_credentials_share_one_budget(
    sessions: sessionmaker[Session], xfake: XFake
) -> None:
    xfake.add("lumio and acme", at=NOW - timedelta(minutes=3))
    config = parse_config(
        f"""
[sources.x]
base_url = "{xfake.base_url}"
token_env = "SHARED_X"
[[topics]]
name = "acme"
[topics.queries]
x = ["acme"]
[[topics]]
name = "lumio"
[topics.queries]
x = ["lumio"]
"""
    )
    env = {"SHARED_X": "shared"}
    xfake.fault("429")  # the first topic's request is refused
    results = poll_all(sessions, config, NOW, env=env)
    assert [(r.topic, r.health) for r in results] == [
        ("acme", "rate_limited"),
        ("lumio", "rate_limited"),
    ]
    assert len(xfake.searches()) == 1  # the second topic did not even ask
    assert "budget" in results[1].detail
    later = poll_all(sessions, config, NOW + timedelta(minutes=16), env=env)
    assert [r.health for r in later] == ["ok", "ok"] and len(xfake.searches()) == 3
