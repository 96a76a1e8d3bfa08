"""Fixtures for `/api/v1` and the mention list: a runtime on SQLite or PostgreSQL, a clock, and
clients acting as a viewer, a responder or nobody."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from alerts.auth import Role, create_token, create_user
from alerts.web import create_app
from tests.alerts.scenario import CONFIG, SECRET, T0, Clock
from worker.config import parse_config
from worker.ingest import ingest_page
from worker.model import Mention
from worker.runtime import Runtime
from worker.settings import Settings
from worker.storage.db import make_engine, make_sessionmaker

HOSTILE = "<img src=x onerror=alert(1)>"
SCHEDULE = """
[people.bob]
name = "Bob"
email = "bob@example.com"

[schedules.primary]
timezone = "Europe/Paris"
rotation = "weekly"
handoff = "Mon 09:00"
start = "2026-08-31"
members = ["alice", "bob"]
"""


def make_rt(url: str, tmp_path: Path) -> Runtime:
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
    return Runtime(
        settings, parse_config(CONFIG + SCHEDULE), engine, make_sessionmaker(engine), tmp_path
    )


@pytest.fixture
def rt(db_url: str, tmp_path: Path) -> Iterator[Runtime]:
    runtime = make_rt(db_url, tmp_path)
    yield runtime
    runtime.dispose()


def accounts(rt: Runtime) -> dict[str, str]:
    """A viewer and a responder account, each with a personal token: {account name: token}.
    (With an account in the database, a loopback caller is no longer the "local" admin.)"""
    tokens = {}
    with rt.sessions.begin() as s:
        for name, role in (("vera", Role.viewer), ("rory", Role.responder)):
            create_user(s, name, role, T0)
            tokens[name] = create_token(s, name, T0)
    return tokens


@pytest.fixture
def tokens(rt: Runtime) -> dict[str, str]:
    return accounts(rt)


def _client(rt: Runtime, clock: Clock, token: str | None) -> TestClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return TestClient(
        create_app(lambda: rt, clock=clock), client=("127.0.0.1", 50000), headers=headers
    )


@pytest.fixture
def viewer(rt: Runtime, clock: Clock, tokens: dict[str, str]) -> TestClient:
    return _client(rt, clock, tokens["vera"])


@pytest.fixture
def responder(rt: Runtime, clock: Clock, tokens: dict[str, str]) -> TestClient:
    return _client(rt, clock, tokens["rory"])


@pytest.fixture
def anonymous(rt: Runtime, clock: Clock, tokens: dict[str, str]) -> TestClient:
    return _client(rt, clock, None)


def store(rt: Runtime, mentions: list[Mention], topic: str = "acme", now: datetime = T0) -> None:
    with rt.sessions.begin() as s:
        ingest_page(s, mentions, now, bucket_seconds=300, topic=topic)


def mentions(n: int, start: datetime = T0, **kw: Any) -> list[Mention]:
    """n mentions a minute apart ending before `start`, ids m0…"""
    return [
        Mention(
            kw.get("platform", "rss"),
            f"{kw.get('prefix', 'm')}{i}",
            start - timedelta(minutes=n - i),
            kw.get("text", f"post {i}"),
            author=kw.get("author", f"a{i}"),
        )
        for i in range(n)
    ]


__all__ = ["HOSTILE", "T0", "UTC", "accounts", "make_rt", "mentions", "store"]
