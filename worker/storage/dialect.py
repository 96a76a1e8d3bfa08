"""The few places where SQLite and PostgreSQL differ, in one module.

- `insert_for(session)`: the dialect's INSERT with ON CONFLICT (both have it, under two names).
- `bucket_epoch(column, width, session)`: the Unix time of the start of the `width`-second bucket
  a timestamp column falls in, as an integer SQL expression (for GROUP BY in one statement).
- `prebuilt(build)`: a statement built once per dialect (hot paths skip SQLAlchemy's statement
  construction, which costs more than SQLite's execution of a small query).
- `is_postgresql(session)`: for row locks (`FOR UPDATE SKIP LOCKED`), which SQLite does not need
  (it serialises writers with BEGIN IMMEDIATE).
- `peek(sessions, stmt, params)`: the rows of a small read-only question ("is any incident
  open?") asked outside any transaction. Scheduled jobs ask such questions every few seconds and
  most of the time the answer is "nothing to do"; on SQLite a session would open a write
  transaction (BEGIN IMMEDIATE) for it, so the question goes through a plain read-only
  connection of this thread instead (WAL: it sees every committed row and blocks no writer).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from sqlalchemy import Engine, Integer, cast, event, func, literal
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker
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


# --- read-only questions outside a transaction ------------------------------------------------

Row = tuple[Any, ...]


class _SqlitePeek:
    """Per engine: one sqlite3 connection per thread and process, used only to read, and each statement
    compiled once (its SQL text, how to bind each parameter, how to read each column)."""

    def __init__(self, engine: Engine) -> None:
        self.path = str(engine.url.database)
        self.dialect = engine.dialect
        self.local = threading.local()
        self.compiled: dict[int, tuple[Any, str, list[Any], list[Any]]] = {}
        self.connections: list[sqlite3.Connection] = []
        self.lock = threading.Lock()

    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self.local, "conn", None)
        if conn is None or self.local.pid != os.getpid():
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            self.local.conn, self.local.pid = conn, os.getpid()
            with self.lock:
                self.connections.append(conn)
        return conn

    def close(self, *_: Any) -> None:
        with self.lock:
            for conn in self.connections:
                conn.close()
            self.connections.clear()
            self.local = threading.local()

    def rows(self, stmt: Any, params: Mapping[str, Any]) -> list[Row] | None:
        """The rows, or None for a statement this path cannot run (expanding parameters)."""
        entry = self.compiled.get(id(stmt))
        if entry is None or entry[0] is not stmt:
            compiled = stmt.compile(dialect=self.dialect)
            if "POSTCOMPILE" in compiled.string:
                return None
            binds = []
            for name in compiled.positiontup or ():
                bind = compiled.binds[name]
                impl = bind.type.dialect_impl(self.dialect)
                binds.append((name, bind.effective_value, impl.bind_processor(self.dialect)))
            columns = [
                c.type.dialect_impl(self.dialect).result_processor(self.dialect, None)
                for c in stmt.selected_columns
            ]
            entry = (stmt, compiled.string, binds, columns)
            self.compiled[id(stmt)] = entry
        _, sql, binds, columns = entry
        args = []
        for name, default, process in binds:
            value = params.get(name, default)
            args.append(process(value) if process is not None else value)
        return [
            tuple(v if p is None else p(v) for p, v in zip(columns, raw, strict=True))
            for raw in self.connection().execute(sql, args).fetchall()
        ]


_PEEKS: weakref.WeakKeyDictionary[Engine, _SqlitePeek] = weakref.WeakKeyDictionary()


def peek(
    sessions: sessionmaker[Session], stmt: Any, params: Mapping[str, Any] | None = None
) -> list[Row]:
    """The rows of the read-only `stmt`, read outside any transaction (see the module's notes).

    On a file SQLite database: a read-only connection of this thread (no BEGIN IMMEDIATE, no
    session). Elsewhere (PostgreSQL, an in-memory database): a plain connection of the engine.
    """
    engine = sessions.kw.get("bind")
    if isinstance(engine, Engine) and engine.dialect.name == "sqlite":
        database = engine.url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            peeker = _PEEKS.get(engine)
            if peeker is None:
                peeker = _PEEKS[engine] = _SqlitePeek(engine)
                event.listen(engine, "engine_disposed", peeker.close)
            rows = peeker.rows(stmt, params or {})
            if rows is not None:
                return rows
    with sessions() as session:
        return [tuple(r) for r in session.execute(stmt, dict(params or {})).all()]
