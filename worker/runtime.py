"""The per-process context: settings, database engine, session factory and team config.

Built lazily on first use (never at import time) from the environment, or installed explicitly by
an entry point or a test with `set_runtime()`. Celery tasks call `get_runtime()`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from worker.config import Config, default_config, load_config
from worker.settings import Settings, load_settings
from worker.storage.db import make_engine, make_sessionmaker


@dataclass
class Runtime:
    settings: Settings
    config: Config
    engine: Engine
    sessions: sessionmaker[Session]
    #: Where file/console notifications go; the data dir's outbox by default.
    outbox_dir: Path = field(default_factory=lambda: Path(".tocsin/outbox"))

    def dispose(self) -> None:
        self.engine.dispose()


def utcnow() -> datetime:
    """The wall clock, read only by the shell (tasks, CLI); core functions take `now`."""
    return datetime.now(UTC)


_lock = threading.Lock()
_current: Runtime | None = None


def build_runtime(settings: Settings | None = None, config: Config | None = None) -> Runtime:
    settings = settings or load_settings()
    if config is None:
        config = (
            load_config(settings.config_path) if settings.config_path.exists() else default_config()
        )
    engine = make_engine(settings.database_url)
    return Runtime(settings, config, engine, make_sessionmaker(engine), settings.outbox_dir)


def get_runtime() -> Runtime:
    global _current
    with _lock:
        if _current is None:
            _current = build_runtime()
        return _current


def set_runtime(runtime: Runtime | None) -> None:
    global _current
    with _lock:
        _current = runtime
