"""The poll → ingest path on real databases: an RSS entry with a 330-character author costs
nothing, and an ingest that fails anyway shows in the source's health, never as healthy."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.fakes.rss_server import RSSServer, rss_feed
from worker.config import parse_config
from worker.jobs import Context, InlineQueue, run
from worker.runtime import Runtime, build_runtime, set_runtime
from worker.serialize import page_to_json
from worker.settings import load_settings
from worker.sources.base import Query
from worker.sources.http import make_client
from worker.sources.rss import RSSConnector
from worker.storage.models import MentionRow, PollRow, Source

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def server() -> Iterator[RSSServer]:
    s = RSSServer().start()
    yield s
    s.stop()


@pytest.fixture
def runtime(db_url: str, tmp_path: Path, server: RSSServer) -> Iterator[Runtime]:
    settings = load_settings(
        {
            "TOCSIN_DATA_DIR": str(tmp_path / "data"),
            "TOCSIN_DATABASE_URL": db_url,
            "TOCSIN_SECRET_KEY": "ingest-test-secret-0123456789",
        }
    )
    config = parse_config(
        f'[[topics]]\nname = "acme"\n[topics.queries]\nrss = ["{server.url("/feed")}"]\n'
    )
    rt = build_runtime(settings, config)
    set_runtime(rt)
    with rt.sessions.begin() as s:
        s.add(Source(topic="acme", platform="rss", query=server.url("/feed"), cursor={}))
    yield rt
    set_runtime(None)
    rt.dispose()


def ingest_task(rt: Runtime, *args: object) -> dict[str, object]:
    """The `ingest.page` job as a worker runs it (its follow-up tasks are queued, not run)."""
    queue = InlineQueue()
    return run("ingest.page", Context(rt.sessions, rt.config, queue.send), NOW, *args)  # type: ignore[no-any-return]


def source(rt: Runtime) -> Source:
    with rt.sessions() as s:
        return s.scalars(select(Source)).one()


def test_rss_entry_with_a_330_character_author_costs_nothing(
    runtime: Runtime, server: RSSServer
) -> None:
    """All 50 entries are stored (the long author cut to fit), and the poll is recorded ok."""
    entries = [
        {
            "title": f"Acme story {i}",
            "link": f"https://news.example/{i}",
            "guid": f"g{i}",
            "pubDate": NOW - timedelta(minutes=i),
            "author": ("a" * 330) if i == 7 else f"Reporter {i}",
        }
        for i in range(50)
    ]
    server.set_feed("/feed", rss_feed(entries))
    src = source(runtime)
    with make_client() as client:
        page = RSSConnector().fetch(client, Query("acme", "rss", src.query), {}, NOW)
    result = ingest_task(runtime, src.id, page_to_json(page), {})
    assert result == {"stored": 50, "duplicates": 0}
    with runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(MentionRow)) == 50
        polls = s.scalars(select(PollRow)).all()
    assert [(p.health, p.new) for p in polls] == [("ok", 50)]
    assert source(runtime).healthy and source(runtime).cursor["seen"]


def test_failing_ingest_is_recorded_as_bad_response(runtime: Runtime) -> None:
    """A page the database refuses (here a cursor PostgreSQL cannot hold as JSON) leaves the
    cursor where it was and records `bad_response` with the reason, never "ok"."""
    if not runtime.settings.database_url.startswith("postgresql"):
        pytest.skip("SQLite stores NaN in JSON; PostgreSQL refuses it, which is the failure used")
    src = source(runtime)
    page = {
        "mentions": [
            {
                "platform": "rss",
                "id": "g1",
                "created_at": NOW.isoformat(),
                "text": "Acme secret text",
                "author": "alice@example.com",
            }
        ],
        "cursor": {"bad": float("nan")},
    }
    result = ingest_task(runtime, src.id, page, {})
    assert result["stored"] == 0 and "ingest failed" in result["error"]
    assert "secret text" not in result["error"] and "alice@" not in result["error"]
    with runtime.sessions() as s:
        polls = s.scalars(select(PollRow)).all()
        assert s.scalar(select(func.count()).select_from(MentionRow)) == 0
    assert [p.health for p in polls] == ["bad_response"]
    after = source(runtime)
    assert after.cursor == {} and after.consecutive_failures == 1
    assert after.last_error and after.last_error.startswith("ingest failed: ")
