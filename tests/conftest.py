"""Shared fixtures: real SQLite and real PostgreSQL databases, migrated with Alembic.

PostgreSQL: each test session creates its own throwaway database on the server named by
TOCSIN_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test) and drops it at the end,
so runs never see each other's rows. TOCSIN_SKIP_POSTGRES=1 skips the PostgreSQL variants (with a
reason); otherwise an unreachable server is an error, not a silent skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from worker.storage.db import make_engine, make_sessionmaker, upgrade

PG_SERVER = os.environ.get("TOCSIN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TOCSIN_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


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
