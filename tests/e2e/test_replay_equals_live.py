"""Replay and live run the same jobs: the same input gives the same incidents and notifications.

The replay drives the job table on its simulated clock in one process (`tocsin replay`). The
live leg starts a real Celery worker on Redis and plays the beat itself on the same clock: at
each tick it hands the mentions that are now in the past to `ingest.push` and sends every
scheduled job that is due, in table order, through the broker — each time waiting until the
job's whole fan-out has run (counted in Redis by `tests/e2e/counting_app.py`). Only the
executor differs, so any job that exists in one wiring only, or any difference in what the
tasks do, shows as a different incident list.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import select

import tocsin
from tests.conftest import DemoRun
from tests.scenarios import calm_then_burst
from tocsin.replay import _ticks, replay
from worker.config import load_config
from worker.jobs import simulate
from worker.serialize import mention_to_json
from worker.sources.jsonl import read_mentions_file
from worker.storage.db import make_engine, make_sessionmaker
from worker.storage.models import Incident, Notification

pytestmark = pytest.mark.e2e

CONFIG = """
[tocsin]
timezone = "Europe/Paris"
bucket_minutes = 15

[[topics]]
name = "acme"

[[topics]]
name = "globex"

[people.alice]
name = "Alice"
[people.carol]
name = "Carol"

[groups]
oncall = ["alice"]
leadership = ["carol"]

[policies.default]
steps = [
  { after_minutes = 0, notify = ["oncall"], channels = ["console"] },
  { after_minutes = 15, notify = ["leadership"], channels = ["console"] },
]
severe_at = 1
"""


def _incidents(rows: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return [
        (r["topic"], r["opened_at"], r["severity"], tuple(r["kinds"]), r["resolved_at"])
        for r in rows
    ]  # type: ignore[arg-type]


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _wait_quiet(counters: redis.Redis, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with counters.pipeline(transaction=True) as pipe:
            finished, published = (
                pipe.get("tocsin:test:finished").get("tocsin:test:published").execute()
            )
        if int(finished or 0) == int(published or 0):
            return
        if proc.poll() is not None:
            raise AssertionError(f"worker exited with {proc.returncode}")
        time.sleep(0.005)
    raise AssertionError("the worker did not finish the fan-out in time")


@pytest.mark.parametrize(
    ("scenario_name", "database"),
    [("two-topics", "postgresql"), ("two-topics", "sqlite"), ("demo", "postgresql")],
)
def test_replay_and_live_open_the_same_incidents(
    scenario_name: str,
    database: str,
    tmp_path: Path,
    redis_url: str,
    request: pytest.FixtureRequest,
) -> None:
    """Two topics over a day and a half with one angry burst, and the shipped demo: the
    replay's incidents and notifications equal those of a real Celery worker fed the same input
    on the same clock."""
    scenario = tmp_path / "mentions.jsonl"
    config_path = tmp_path / "tocsin.toml"
    if scenario_name == "demo":
        shutil.copy(Path(tocsin.__file__).parent / "data" / "demo_lumio.jsonl", scenario)
        # What `tocsin demo` runs with: the topic, default thresholds and the default policy.
        config_path.write_text('[[topics]]\nname = "lumio"\n', encoding="utf-8")
    else:
        calm_then_burst(scenario, ["acme", "globex"], days=1.5, bursts=[("acme", 30.0)])
        config_path.write_text(CONFIG, encoding="utf-8")
    config = load_config(config_path)

    if scenario_name == "demo":
        # The session's one `tocsin demo` run (tests/conftest.py) is the replay of this input.
        demo: DemoRun = request.getfixturevalue("demo_run")
        assert demo.returncode == 0, demo.stderr
        expected_incidents = _read_jsonl(demo.out / "incidents.jsonl")
        expected_notifications = _read_jsonl(demo.out / "notifications.jsonl")
    else:
        expected = replay(scenario, tmp_path / "replay", config, progress=False)
        expected_incidents, expected_notifications = expected.incidents, expected.notifications
    assert expected_incidents, "the scenario must open an incident, or the test proves nothing"

    db_url = (
        request.getfixturevalue("pg_database_factory")()
        if database == "postgresql"
        else f"sqlite:///{tmp_path / 'live.db'}"
    )
    if database == "sqlite":
        from worker.storage.db import upgrade

        upgrade(db_url)
    counters = redis.Redis.from_url(redis_url)
    env = {
        **os.environ,
        "TOCSIN_DATABASE_URL": db_url,
        "TOCSIN_BROKER_URL": redis_url,
        "TOCSIN_CONFIG": str(config_path),
        "TOCSIN_DATA_DIR": str(tmp_path / "data"),
        "TOCSIN_SECRET_KEY": "equal-secret-0123456789",
        "TOCSIN_TEST_COUNTERS_URL": redis_url,
    }
    from worker.celery_app import QUEUES, app, configure
    from worker.settings import load_settings

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.e2e.counting_app",
            "worker",
            "-P",
            "solo",
            "-Q",
            ",".join(QUEUES),
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "WARNING",
        ],
        env=env,
        cwd=Path(__file__).parents[2],
        stdout=(tmp_path / "worker.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    old = {k: os.environ.get(k) for k in ("TOCSIN_BROKER_URL", "TOCSIN_DATABASE_URL")}
    os.environ.update({"TOCSIN_BROKER_URL": redis_url, "TOCSIN_DATABASE_URL": db_url})
    try:
        configure(load_settings())

        class Broker:
            """The live executor: publish through Redis, wait until the fan-out has run."""

            def send(self, name: str, args: Sequence[Any], now: datetime) -> None:
                counters.incr("tocsin:test:published")
                app.send_task(name, args=list(args), kwargs={"now": now.isoformat()})
                _wait_quiet(counters, proc)

            def drain(self) -> None:
                pass

        broker = Broker()
        mentions, errors = read_mentions_file(scenario)
        assert not errors
        mentions.sort(key=lambda m: m.created_at)
        i = 0

        def feed(now: datetime) -> None:
            nonlocal i
            by_topic: dict[str, list[dict[str, Any]]] = {}
            while i < len(mentions) and mentions[i].created_at < now:
                m = mentions[i]
                by_topic.setdefault(m.topic or "default", []).append(mention_to_json(m))
                i += 1
            if by_topic:
                broker.send("ingest.push", [by_topic], now)

        step = timedelta(minutes=config.bucket_minutes)
        last = mentions[-1].created_at + timedelta(hours=3)  # the replay's default tail
        simulate(config, broker, _ticks(mentions[0].created_at, last, step), before_tick=feed)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        proc.terminate()
        proc.wait(timeout=60)

    engine = make_engine(db_url)
    with make_sessionmaker(engine)() as s:
        live = [
            {
                "topic": inc.topic,
                "opened_at": inc.opened_at.isoformat(),
                "severity": f"SEV{inc.severity}",
                "kinds": list(inc.kinds),
                "resolved_at": inc.resolved_at.isoformat() if inc.resolved_at else None,
            }
            for inc in s.scalars(select(Incident).order_by(Incident.opened_at, Incident.id))
        ]
        # Who was notified of what, and that it went out. Not when: live, the outbox stamps a
        # delivery with the wall clock (its lease must hold in real time), not the beat's `now`.
        live_notes = [
            (
                n.incident_id is not None,
                n.step,
                n.recipient,
                n.role,
                n.channel,
                n.sent_at is not None,
            )
            for n in s.scalars(select(Notification).order_by(Notification.id))
        ]
    engine.dispose()
    assert _incidents(live) == _incidents(expected_incidents)
    replay_notes = [
        (n["incident"] is not None, n["step"], n["recipient"], n["role"], n["channel"], True)
        for n in expected_notifications  # the replay lists the notifications that went out
    ]
    assert sorted(live_notes, key=str) == sorted(replay_notes, key=str)
