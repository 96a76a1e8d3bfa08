"""Shared fixtures: real SQLite and real PostgreSQL databases, migrated with Alembic.

PostgreSQL: each test session creates its own throwaway database on the server named by
TOCSIN_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test) and drops it at the end,
so runs never see each other's rows. TOCSIN_SKIP_POSTGRES=1 skips the PostgreSQL variants (with a
reason); otherwise an unreachable server is an error, not a silent skip.

Redis: the tests flush the database named by TOCSIN_TEST_REDIS_URL (default db 15). Under
pytest-xdist (`make test` runs two workers) worker gwK uses that database plus K (or minus K when
that would pass db 15), so two workers never flush each other's broker: with the default, gw0 uses
db 15 and gw1 db 14. Each worker also has its own PostgreSQL database (above), tmp_path and ports.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from worker.storage.db import make_engine, make_sessionmaker, upgrade

if TYPE_CHECKING:
    from tests.alerts.scenario import Clock

PG_SERVER = os.environ.get("TOCSIN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_DATABASES = 16  # Redis's default `databases`


def worker_redis_url(base: str, worker: str | None) -> str:
    """The Redis URL of xdist worker `worker` ("gw0", "gw1"...; None outside xdist): the base
    URL's database shifted by the worker's number, so each worker flushes only its own."""
    if not worker:
        return base
    k = int(worker.removeprefix("gw"))
    parts = urlsplit(base)
    path = parts.path.strip("/")
    db = int(path) if path else 0
    shifted = db + k if db + k < REDIS_DATABASES else db - k
    if not 0 <= shifted < REDIS_DATABASES:
        raise pytest.UsageError(
            f"TOCSIN_TEST_REDIS_URL={base}: no Redis database left for xdist worker {worker}"
        )
    return urlunsplit(parts._replace(path=f"/{shifted}"))


REDIS_URL = worker_redis_url(
    os.environ.get("TOCSIN_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
    os.environ.get("PYTEST_XDIST_WORKER"),
)


def _pg_admin_conn():  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(PG_SERVER, autocommit=True, connect_timeout=5)


@pytest.fixture(scope="session")
def pg_database_factory() -> Iterator[object]:
    """Creates migrated throwaway PostgreSQL databases; drops them all at the end of the session."""
    if os.environ.get("TOCSIN_SKIP_POSTGRES") == "1":
        pytest.skip("TOCSIN_SKIP_POSTGRES=1: PostgreSQL variant not run")
    try:
        admin = _pg_admin_conn()
    except Exception as exc:  # pragma: no cover - environment problem, reported clearly
        pytest.fail(
            f"PostgreSQL not reachable at {PG_SERVER} ({exc}); run `make services` "
            "or set TOCSIN_SKIP_POSTGRES=1",
            pytrace=False,
        )
    created: list[str] = []

    def create() -> str:
        name = f"tocsin_t_{uuid.uuid4().hex[:10]}"
        admin.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        url = make_url(PG_SERVER).set(drivername="postgresql+psycopg", database=name)
        rendered = url.render_as_string(hide_password=False)
        upgrade(rendered)
        return rendered

    yield create
    for name in created:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture(scope="session")
def pg_url(pg_database_factory) -> str:  # type: ignore[no-untyped-def]
    """One migrated PostgreSQL database shared by the session (tests clean their own rows)."""
    return pg_database_factory()  # type: ignore[operator,no-any-return]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'tocsin.db'}"
    upgrade(url)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on a fresh SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'tocsin.db'}"
        upgrade(url)
        return url
    # One migrated database per session, emptied before each test: creating and migrating a
    # database per test would cost a second each.
    url: str = request.getfixturevalue("pg_url")
    truncate_all(url)
    return url


def truncate_all(url: str) -> None:
    from sqlalchemy import text

    from worker.storage.models import Base

    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def redis_url() -> str:
    if os.environ.get("TOCSIN_SKIP_REDIS") == "1":
        pytest.skip("TOCSIN_SKIP_REDIS=1: Redis test not run")
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
        client.flushdb()
    except Exception as exc:
        pytest.fail(
            f"Redis not reachable at {REDIS_URL} ({exc}); run `make services` "
            "or set TOCSIN_SKIP_REDIS=1",
            pytrace=False,
        )
    finally:
        client.close()
    return REDIS_URL


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist, the end-to-end tests (the longest, mostly waiting on real processes)
    go first, so the scheduler's first round hands them out in turn to both workers instead of
    leaving them to one at the end. Otherwise the order is left as collected."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=lambda item: item.get_closest_marker("e2e") is None)  # stable


@dataclass(frozen=True)
class DemoRun:
    """What `tocsin demo --out OUT` printed and wrote; read-only for the tests that share it."""

    out: Path
    returncode: int
    stdout: str
    stderr: str


def _run_demo(out: Path) -> DemoRun:
    proc = subprocess.run(
        [sys.executable, "-m", "tocsin.cli", "demo", "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=out.parent,
        timeout=600,
        check=False,
    )
    return DemoRun(out, proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """One `tocsin demo` (the shipped scenario's replay, packet and weekly summary) for the
    session, shared by the tests that only read its output: its story (tests/core/test_replay.py),
    its golden files (tests/golden) and the incidents a live worker must match
    (tests/e2e/test_replay_equals_live.py). Under pytest-xdist the workers share it too: the
    first one runs it under a file lock in the run's common temporary directory, the other reads
    what it recorded. Tests must not write into `out`."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        root = tmp_path_factory.mktemp("demo-run")
        return _run_demo(root / "demo")
    root = tmp_path_factory.getbasetemp().parent / "demo-run"  # this run's, common to workers
    root.mkdir(exist_ok=True)
    record = root / "run.json"
    with (root / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not record.exists():
            run = _run_demo(root / "demo")
            record.write_text(
                json.dumps(
                    {"returncode": run.returncode, "stdout": run.stdout, "stderr": run.stderr}
                ),
                encoding="utf-8",
            )
    saved = json.loads(record.read_text(encoding="utf-8"))
    return DemoRun(root / "demo", saved["returncode"], saved["stdout"], saved["stderr"])


@pytest.fixture
def clock() -> Clock:
    """The web app's clock, at `tests.alerts.scenario.T0` until a test moves it (modules that
    want another start define their own)."""
    from tests.alerts.scenario import Clock

    return Clock()
