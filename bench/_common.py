"""What the issue #10 benches share: the machine line, throwaway databases, a quick row count."""

from __future__ import annotations

import os
import platform
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PG_SERVER = os.environ.get("TOCSIN_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def machine() -> str:
    """CPU count and model, Python, 1-minute load average: print it beside every number."""
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPU ({cpu}), Python {platform.python_version()}, "
        f"load {os.getloadavg()[0]:.1f}"
    )


def load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


@contextmanager
def throwaway_postgres(prefix: str = "tocsin_bench") -> Iterator[str]:
    """CREATE a migrated database on the bench server, yield its SQLAlchemy URL, DROP it after."""
    import psycopg
    from sqlalchemy.engine import make_url

    from worker.storage.db import upgrade

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(PG_SERVER, autocommit=True, connect_timeout=5)
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(PG_SERVER).set(drivername="postgresql+psycopg", database=name)
        rendered = url.render_as_string(hide_password=False)
        upgrade(rendered)
        yield rendered
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@contextmanager
def throwaway_sqlite(directory: Path) -> Iterator[str]:
    from worker.storage.db import upgrade

    url = f"sqlite:///{directory / 'bench.db'}"
    upgrade(url)
    yield url


@contextmanager
def database(kind: str, directory: Path) -> Iterator[str]:
    if kind == "postgresql":
        with throwaway_postgres() as url:
            yield url
    else:
        with throwaway_sqlite(directory) as url:
            yield url
