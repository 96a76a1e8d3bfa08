"""End to end with real processes: `tocsin run` (a real Celery worker with its beat, on Redis)
polls the X and Hacker News fakes for two topics on schedule; when the X fake starts serving a
burst of angry posts about one topic, an incident opens for that topic and not the other."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.e2e.test_live import wait_for
from tests.fakes.hackernews_server import HackerNewsFake
from tests.fakes.x_server import XFake
from worker.ingest import bucket_start
from worker.storage.db import make_engine, make_sessionmaker
from worker.storage.models import Incident, PollRow

pytestmark = pytest.mark.e2e

CALM = [
    "Lumio support fixed my order quickly, thanks",
    "Trying the new Lumio lamp this weekend",
    "Lumio shipping was on time as usual",
]
ANGRY = [
    "Lumio charged me twice and support ignores me, this is a scam #LumioOutage",
    "Lumio app down again, worst service ever, I want a refund #LumioOutage",
    "Boycott Lumio, terrible and dishonest company #LumioOutage",
]


@pytest.fixture
def fakes() -> Iterator[tuple[XFake, HackerNewsFake]]:
    x, hn = XFake(prefix="/x", token="live-token").start(), HackerNewsFake(prefix="/hn").start()
    yield x, hn
    x.stop()
    hn.stop()


def history(path: Path, now: datetime) -> None:
    """Three calm days of Lumio on X, so the detector has a baseline."""
    rows, t, i = [], now - timedelta(days=3), 0
    while t < now - timedelta(minutes=30):
        for k in range(2 + i % 2):
            rows.append(
                {
                    "platform": "x",
                    "id": f"h{i}-{k}",
                    "created_at": t.isoformat(),
                    "text": CALM[(i + k) % 3],
                    "author": f"fan{(i * 3 + k) % 400}",
                    "topic": "lumio",
                }
            )
        i += 1
        t += timedelta(minutes=10)
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")


def test_worker_and_beat_poll_two_topics_and_a_burst_opens_an_incident(
    redis_url: str, tmp_path: Path, fakes: tuple[XFake, HackerNewsFake]
) -> None:
    x, hn = fakes
    now = datetime.now(UTC)
    hn.add("Acme&#x27;s new release looks solid", at=now - timedelta(hours=2))
    config = tmp_path / "tocsin.toml"
    config.write_text(
        f"""
[sources.x]
base_url = "{x.base_url}"
token_env = "LIVE_X_TOKEN"
[sources.hackernews]
base_url = "{hn.base_url}"

[[topics]]
name = "lumio"
poll_seconds = 30
[topics.queries]
x = ["lumio"]
hackernews = ["lumio"]

[[topics]]
name = "acme"
poll_seconds = 30
[topics.queries]
x = ["acme"]
hackernews = ["acme"]
""",
        encoding="utf-8",
    )
    db_url = f"sqlite:///{tmp_path / 'data' / 'tocsin.db'}"
    env = {
        **os.environ,
        "TOCSIN_DATABASE_URL": db_url,
        "TOCSIN_BROKER_URL": redis_url,
        "TOCSIN_DATA_DIR": str(tmp_path / "data"),
        "TOCSIN_CONFIG": str(config),
        "TOCSIN_SECRET_KEY": "live-polling-secret-0123",
        "TOCSIN_BEAT_SECONDS": "1",
        "LIVE_X_TOKEN": "live-token",
    }
    hist = tmp_path / "history.jsonl"
    history(hist, now)
    imported = subprocess.run(
        [sys.executable, "-m", "tocsin.cli", "import", str(hist)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert imported.returncode == 0, imported.stderr

    log = (tmp_path / "run.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tocsin.cli", "run", "--no-web"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    try:

        def polled() -> set[tuple[str, str]]:
            with sessions() as s:
                rows = s.scalars(select(PollRow).where(PollRow.health == "ok")).all()
            return {(r.topic, r.platform) for r in rows}

        want = {("lumio", "x"), ("lumio", "hackernews"), ("acme", "x"), ("acme", "hackernews")}
        wait_for(lambda: polled() >= want, 120, "every source of both topics to be polled", proc)
        with sessions() as s:
            assert s.scalars(select(Incident)).first() is None

        # The burst: angry posts in the last completed five-minute bucket.
        t = datetime.now(UTC)
        start = bucket_start(t, 300) - timedelta(minutes=5)
        for i in range(160):
            x.add(
                ANGRY[i % 3],
                at=start + timedelta(seconds=1 + (i * 280) // 160),
                username=f"angry{i}",
            )

        def incident() -> Incident | None:
            with sessions() as s:
                return s.scalars(select(Incident)).first()

        opened = wait_for(incident, 150, "an incident to open", proc)
        assert opened.topic == "lumio"
        assert all(r.headers.get("authorization") == "Bearer live-token" for r in x.searches())
        with sessions() as s:
            assert s.scalars(select(Incident).where(Incident.topic == "acme")).first() is None
    finally:
        engine.dispose()
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
        finally:
            log.close()
