"""The few places where SQLite and PostgreSQL differ, in one module.

- `insert_for(session)`: the dialect's INSERT with ON CONFLICT (both have it, under two names).
- `bucket_epoch(column, width, session)`: the Unix time of the start of the `width`-second bucket
  a timestamp column falls in, as an integer SQL expression (for GROUP BY in one statement).
- `prebuilt(build)`: a statement built once per dialect (hot paths skip SQLAlchemy's statement
  construction, which costs more than SQLite's execution of a small query).
- `is_postgresql(session)`: for row locks (`FOR UPDATE SKIP LOCKED`), which SQLite does not need
  (it serialises writers with BEGIN IMMEDIATE).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Integer, cast, func, literal
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

T = TypeVar("T")


def prebuilt(build: Callable[[Any], T]) -> Callable[[Session], T]:
    """Decorate `build(insert)` (given the dialect's `insert`): the statement it returns is built
    once per dialect and reused, with its values passed as parameters at execution."""
    built: dict[str, T] = {}

    def get(session: Session) -> T:
        name = session.get_bind().dialect.name
        if name not in built:
            built[name] = build(postgresql.insert if name == "postgresql" else sqlite.insert)
        return built[name]

    return get


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def insert_for(session: Session) -> Any:
    """`insert()` that supports `.on_conflict_do_nothing/update` on this session's database."""
    return postgresql.insert if is_postgresql(session) else sqlite.insert


def bucket_epoch(column: Any, width: int, session: Session) -> ColumnElement[int]:
    """Integer seconds since the epoch of the start of the bucket `column` falls in.

    Buckets are aligned on the Unix epoch (`worker.ingest.bucket_start`). SQLite stores times as
    UTC text, which `strftime('%s')` reads; PostgreSQL has `extract(epoch)`.
    """
    w = literal(width, Integer)
    if is_postgresql(session):
        seconds = cast(func.floor(func.extract("epoch", column)), Integer)
    else:
        seconds = cast(func.strftime("%s", column), Integer)
    return cast((seconds // w) * w, Integer)
