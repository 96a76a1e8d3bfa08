"""`dialect.peek`: the idle tick's questions give a session's answer without a write transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from alerts.packets.versions import DUE
from alerts.tasks import _ANY_DUE, _ANY_OPEN
from worker.config import default_config
from worker.ingest import ingest_page
from worker.model import Mention
from worker.pipeline import STATES, due_topics, topics_due
from worker.storage.dialect import peek
from worker.storage.models import Incident

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


def _incident(state: str, resolved_at: datetime | None = None, topic: str = "acme") -> Incident:
    return Incident(
        topic=topic,
        title="t",
        state=state,
        severity=2,
        opened_at=NOW - timedelta(hours=2),
        updated_at=NOW - timedelta(hours=1),
        last_signal_at=NOW - timedelta(hours=1),
        resolved_at=resolved_at,
    )


def test_peek_answers_as_a_session_does(sessions: sessionmaker[Session]) -> None:
    """Same rows, same types (aware UTC datetimes), on SQLite's read path and PostgreSQL's."""
    assert peek(sessions, _ANY_OPEN) == []
    with sessions.begin() as s:
        ingest_page(
            s,
            [Mention("bluesky", "1", NOW - timedelta(minutes=3), "meh", topic="acme")],
            NOW,
            bucket_seconds=300,
            topic="acme",
        )
        s.add(_incident("resolved", resolved_at=NOW - timedelta(hours=3)))
    assert peek(sessions, _ANY_OPEN) == []
    (recent,) = peek(sessions, DUE, {"now": NOW, "since": NOW - timedelta(days=1)})
    assert recent[1:] == (None, None, None, None)  # no timeline row, no packet version
    assert peek(sessions, DUE, {"now": NOW, "since": NOW}) == []
    assert peek(sessions, _ANY_DUE, {"now": NOW}) == []
    with sessions.begin() as s:
        s.add(_incident("triggered"))
    assert len(peek(sessions, _ANY_OPEN)) == 1

    rows = peek(sessions, STATES)
    with sessions() as s:
        expected = [tuple(r) for r in s.execute(STATES).all()]
    assert rows == expected
    (row,) = rows
    assert row[0] == "acme" and row[5] == NOW - timedelta(minutes=3)
    assert row[5].tzinfo is not None
    config = default_config(["acme"])
    with sessions() as s:
        assert due_topics(rows, config, NOW) == topics_due(s, config, NOW) == ["acme"]


def test_peek_does_not_wait_for_a_writer(sessions: sessionmaker[Session]) -> None:
    """While another transaction holds the write lock, the question is still answered at once
    (a session on SQLite would wait for BEGIN IMMEDIATE; on PostgreSQL readers never wait)."""
    with sessions.begin() as s:
        s.add(_incident("triggered"))
    with sessions.begin() as writer:
        writer.add(_incident("triggered", topic="globex"))
        writer.flush()  # the write lock is held until this block ends
        assert len(peek(sessions, _ANY_OPEN)) == 1  # sees what is committed
