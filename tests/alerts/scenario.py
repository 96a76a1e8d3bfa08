"""A small incident scenario shared by the web and browser tests: a topic whose display name and
mention text are hostile markup, one person, one opened and escalated incident."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from alerts.service import escalation_tick, observe
from worker.config import parse_config
from worker.ingest import ingest_page
from worker.model import Evidence, Mention, Signal
from worker.pipeline import store_signals
from worker.runtime import Runtime
from worker.settings import Settings
from worker.storage.db import make_engine, make_sessionmaker, upgrade
from worker.storage.models import Notification

T0 = datetime(2026, 9, 1, 14, 0, tzinfo=UTC)
SECRET = "web-test-secret-0123456789"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> Acme is a scam!!'

CONFIG = """
[[topics]]
name = "acme"
display_name = "Acme <Corp>"

[people.alice]
name = "Alice"
email = "alice@example.com"

[groups]
oncall = ["alice"]
leadership = ["alice"]
"""


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def make_runtime(tmp_path: Path, timezone: str | None = None) -> Runtime:
    url = f"sqlite:///{tmp_path / 'tocsin.db'}"
    upgrade(url)
    engine = make_engine(url)
    settings = Settings(
        data_dir=tmp_path,
        database_url=url,
        broker_url="memory://",
        secret_key=SECRET,
        base_url="http://testserver",
        config_path=tmp_path / "none.toml",
        sentry_dsn=None,
        web_host="127.0.0.1",
        web_port=0,
    )
    text = CONFIG if timezone is None else f'[tocsin]\ntimezone = "{timezone}"\n{CONFIG}'
    return Runtime(settings, parse_config(text), engine, make_sessionmaker(engine), tmp_path)


def open_incident(rt: Runtime) -> int:
    with rt.sessions.begin() as s:
        page = [
            Mention("rss", str(i), T0 - timedelta(minutes=3), HOSTILE, author=f"a{i}")
            for i in range(3)
        ]
        ingest_page(s, page, T0, bucket_seconds=300, topic="acme")
        ev = Evidence(T0 - timedelta(minutes=5), T0, 30, 3, 1, 6, 1e-9)
        sig = Signal("acme", "volume_spike", T0, 0.99, 3, f"Spike: {HOSTILE}", ev)
        (inc_id,) = observe(s, rt.config, store_signals(s, [sig]), T0)
    escalation_tick(rt.sessions, rt.config, T0, base_url="http://testserver", secret_key=SECRET)
    return inc_id


def ack_path(rt: Runtime) -> str:
    with rt.sessions() as s:
        n = s.scalars(select(Notification)).first()
        assert n is not None
        url = n.body["ack_url"]
    return re.sub(r"^https?://[^/]+", "", url)
