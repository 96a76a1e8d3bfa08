"""The few places where SQLite and PostgreSQL differ, in one module.

- `insert_for(session)`: the dialect's INSERT with ON CONFLICT (both have it, under two names).
- `bucket_epoch(column, width, session)`: the Unix time of the start of the `width`-second bucket
  a timestamp column falls in, as an integer SQL expression (for GROUP BY in one statement).
- `prebuilt(build)`: a statement built once per dialect (hot paths skip SQLAlchemy's statement
  construction, which costs more than SQLite's execution of a small query).
- `insert_new(session, table, rows, unique, returning)`: insert many rows, skipping those that
  conflict on `unique`, returning columns of the rows inserted. PostgreSQL gets one short
  statement per chunk whose rows come as one JSON document (`json_to_recordset`): a multi-row
  VALUES list is a new, long query text at each page, which psycopg parses again every time (it
  caches only short statements) — that parse was ~40 % of a page's ingest; a list per column
  (`unnest`, the previous form) made psycopg dump every element in Python, where `json.dumps`
  encodes the page in C.
- `upsert_many(session, table, rows, unique, update, fallback)`: the same for an UPSERT (the
  bucket recount), one statement on PostgreSQL instead of one per row.
- `is_postgresql(session)`: for row locks (`FOR UPDATE SKIP LOCKED`), which SQLite does not need
  (it serialises writers with BEGIN IMMEDIATE).
- `peek(sessions, stmt, params)`: the rows of a small read-only question ("is any incident
  open?") asked outside any transaction. Scheduled jobs ask such questions every few seconds and
  most of the time the answer is "nothing to do"; on SQLite a session would open a write
  transaction (BEGIN IMMEDIATE) for it, so the question goes through a plain connection of this
  thread that only reads, outside any transaction (WAL: it sees every committed row and blocks
  no writer).
"""

from __future__ import annotations

import json
import math
import os
import re
import sqlite3
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Engine, Integer, Table, cast, event, func, literal, text
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


# --- many rows, skipping duplicates ----------------------------------------------------------

_RECORDSET: dict[tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]], Any] = {}


def _recordset_insert(
    session: Session,
    table: Table,
    columns: Sequence[str],
    unique: Sequence[str],
    returning: Sequence[str],
    update: Sequence[str] = (),
) -> Any:
    """INSERT … SELECT FROM json_to_recordset(:rows) ON CONFLICT … (built once per shape).

    With `update`, a conflicting row gets those columns from the new one (DO UPDATE)."""
    key = (table.name, tuple(columns), tuple(unique), (*returning, "|", *update))
    if key not in _RECORDSET:
        dialect = session.get_bind().dialect
        fields, selects = [], []
        for c in columns:
            # No length in the record's type: an explicit VARCHAR(300) would cut an overlong
            # value silently, where the column refuses it (as a VALUES insert does).
            kind = re.sub(r"\(\d+\)", "", table.c[c].type.compile(dialect=dialect))
            if kind in ("JSON", "JSONB"):
                fields.append(f"{c} JSON")
                selects.append(f"CAST(u.{c} AS {kind})")
            else:
                fields.append(f"{c} {kind}")
                selects.append(f"u.{c}")
        action = (
            "DO UPDATE SET " + ", ".join(f"{c} = EXCLUDED.{c}" for c in update)
            if update
            else "DO NOTHING"
        )
        sql = (
            f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT {', '.join(selects)} "
            f"FROM json_to_recordset(CAST(:rows AS JSON)) AS u({', '.join(fields)}) "
            f"ON CONFLICT ({', '.join(unique)}) {action}"
        )
        stmt: Any
        if returning:
            stmt = text(f"{sql} RETURNING {', '.join(returning)}").columns(
                *(table.c[r] for r in returning)
            )
        else:
            stmt = text(sql)
        _RECORDSET[key] = stmt
    return _RECORDSET[key]


def _json_default(value: Any) -> Any:
    """Times as ISO 8601 in UTC (what `UtcDateTime` binds); anything else is not a column value."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: tocsin stores only aware UTC times")
        return value.astimezone(UTC).isoformat()
    raise TypeError(f"cannot store {type(value).__name__} through a JSON recordset")


def _rows_json(rows: Sequence[Mapping[str, Any]]) -> str:
    """The rows as one JSON document: C-encoded at once, where binding a list per column made
    psycopg dump every element in Python (a tenth of a page's ingest). JSON columns nest as
    they are (the same text `json.dumps` gives them alone), floats round-trip exactly."""
    return json.dumps(rows if isinstance(rows, list) else list(rows), default=_json_default)


def insert_new(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    unique: Sequence[str],
    returning: Sequence[str],
    chunk: int = 500,
) -> list[Any]:
    """Insert `rows` (dicts with the same keys) unless they conflict on `unique`; return the
    `returning` columns of the rows inserted, in chunks (SQLite caps bound parameters)."""
    if not rows:
        return []
    out: list[Any] = []
    if is_postgresql(session):
        stmt = _recordset_insert(session, table, list(rows[0]), unique, returning)
        for i in range(0, len(rows), chunk * 10):
            out.extend(session.execute(stmt, {"rows": _rows_json(rows[i : i + chunk * 10])}))
        return out
    stmt = _insert_returning(table, tuple(unique), tuple(returning))
    for i in range(0, len(rows), chunk):
        out.extend(session.execute(stmt, list(rows[i : i + chunk])).all())
    return out


def upsert_many(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    unique: Sequence[str],
    update: Sequence[str],
    fallback: Any,
) -> None:
    """Insert `rows` (dicts with the same keys, no two with the same `unique` key), replacing
    the `update` columns of rows already stored. PostgreSQL: one statement over a JSON
    recordset (an executemany sends, and psycopg dumps, one statement per row); SQLite:
    `fallback` (the dialect's INSERT … ON CONFLICT DO UPDATE) executed over the rows."""
    if not rows:
        return
    if not is_postgresql(session):
        session.execute(fallback, list(rows))
        return
    stmt = _recordset_insert(session, table, list(rows[0]), unique, (), update)
    session.execute(stmt, {"rows": _rows_json(rows)})


def _record_fields(session: Session, table: Table, columns: Sequence[str]) -> str:
    """`name TYPE, …` of a recordset with the columns' types (no lengths, as above)."""
    dialect = session.get_bind().dialect
    kinds = [re.sub(r"\(\d+\)", "", table.c[c].type.compile(dialect=dialect)) for c in columns]
    return ", ".join(f"{c} {k}" for c, k in zip(columns, kinds, strict=True))


_UPSERT_UPDATE: dict[tuple[Any, ...], Any] = {}


def upsert_then_update(
    session: Session,
    upsert: tuple[Table, Sequence[Mapping[str, Any]], Sequence[str], Sequence[str], Any],
    then: tuple[Table, Sequence[Mapping[str, Any]], str, Any, Sequence[Mapping[str, Any]]],
) -> None:
    """`upsert_many(session, *upsert)`, then UPDATE the table `then[0]` from the rows `then[1]`
    (dicts keyed by column names; `then[2]` the key column). On PostgreSQL both in one statement
    (the UPSERT in a WITH clause): one round trip instead of two. Elsewhere, and for rows JSON
    cannot carry (NaN, ±inf): the UPSERT's `fallback`, then `then[3]` executed over the rows
    `then[4]` (the same rows under that statement's parameter names)."""
    table, rows, unique, update, fallback = upsert
    t_table, t_rows, key, t_fallback, t_params = then
    if not is_postgresql(session) or not rows or not t_rows or not _json_safe(rows):
        if rows:
            if is_postgresql(session) and _json_safe(rows):
                upsert_many(session, table, rows, unique, update, fallback)
            else:
                session.execute(fallback, list(rows))
        if t_params:
            session.execute(t_fallback, list(t_params))
        return
    columns, t_columns = list(rows[0]), list(t_rows[0])
    cache_key = (
        table.name,
        tuple(columns),
        tuple(unique),
        tuple(update),
        t_table.name,
        key,
        tuple(t_columns),
    )
    if cache_key not in _UPSERT_UPDATE:
        first = _recordset_insert(session, table, columns, unique, (), update).text
        sets = ", ".join(f"{c} = u.{c}" for c in t_columns if c != key)
        _UPSERT_UPDATE[cache_key] = text(
            f"WITH w AS ({first}) UPDATE {t_table.name} SET {sets} "
            f"FROM json_to_recordset(CAST(:then AS JSON)) AS u"
            f"({_record_fields(session, t_table, t_columns)}) "
            f"WHERE {t_table.name}.{key} = u.{key}"
        )
    session.execute(
        _UPSERT_UPDATE[cache_key], {"rows": _rows_json(rows), "then": _rows_json(t_rows)}
    )


def _json_safe(rows: Sequence[Mapping[str, Any]]) -> bool:
    return all(not isinstance(v, float) or math.isfinite(v) for r in rows for v in r.values())


_RETURNING: dict[tuple[str, tuple[str, ...], tuple[str, ...]], Any] = {}


def _insert_returning(table: Table, unique: tuple[str, ...], returning: tuple[str, ...]) -> Any:
    key = (table.name, unique, returning)
    if key not in _RETURNING:
        _RETURNING[key] = (
            sqlite.insert(table)
            .on_conflict_do_nothing(index_elements=list(unique))
            .returning(*(table.c[r] for r in returning))
        )
    return _RETURNING[key]


# --- read-only questions outside a transaction ------------------------------------------------

Row = tuple[Any, ...]


class _SqlitePeek:
    """Per engine: one sqlite3 connection per thread and process, used only to read, and each
    statement compiled once (its SQL text, how to bind each parameter, how to read each column)."""

    def __init__(self, engine: Engine) -> None:
        self.path = str(engine.url.database)
        self.dialect = engine.dialect
        self.local = threading.local()
        self.compiled: dict[int, tuple[Any, str | None, list[Any], list[Any]]] = {}
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
                self.compiled[id(stmt)] = (stmt, None, [], [])
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
        if sql is None:
            return None
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
