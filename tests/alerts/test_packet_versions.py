"""Which incidents get a new packet version is read in one statement (`versions.DUE`) and agrees
with `store_version`'s own rules at every tick; a tick where nothing moved builds nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from alerts.packets import versions
from alerts.packets.versions import DUE, RECENT, due_incidents, refresh_packets, store_version
from tests.alerts.reporting import T0, build_incident, config
from worker.storage.dialect import peek
from worker.storage.models import Incident, PacketVersion


def test_due_incidents_agree_with_store_version_at_every_minute(
    sessions: sessionmaker[Session],
) -> None:
    """The scenario has signals-only rows (kept at most every 30 minutes), an acknowledgement
    and a note (kept at once), and rows whose time is after `now` but whose id is not."""
    cfg = config()
    build_incident(sessions, cfg)
    kept = []
    for minutes in range(-5, 100):
        now = T0 + timedelta(minutes=minutes)
        with sessions.begin() as s:
            due = due_incidents(s.execute(DUE, {"now": now, "since": now - RECENT}), now)
            # store_version decides alone, for every recent incident (what the job did before).
            ids = s.scalars(select(Incident.id)).all()
            stored = [i for i in ids if store_version(s, cfg, i, now) is not None]
        assert due == stored, minutes
        kept += [minutes] * len(stored)
    assert kept == [0, 20, 40]  # opened and paged, acknowledged, the note


def test_a_tick_where_nothing_moved_reads_once_and_builds_nothing(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = config()
    inc = build_incident(sessions, cfg)
    with sessions.begin() as s:
        assert refresh_packets(s, cfg, T0 + timedelta(minutes=1)) == 1

    def no_build(*_: Any, **__: Any) -> Any:
        raise AssertionError("built a packet on a tick where nothing moved")

    monkeypatch.setattr(versions, "build_packet", no_build)
    statements: list[str] = []
    engine = sessions.kw["bind"]

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        with sessions.begin() as s:
            assert refresh_packets(s, cfg, T0 + timedelta(minutes=2)) == 0
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len([q for q in statements if q.lstrip().upper().startswith("SELECT")]) == 1
    with sessions() as s:
        assert s.scalars(
            select(PacketVersion.version).where(PacketVersion.incident_id == inc)
        ).all() == [1]


def test_due_read_outside_a_transaction_answers_as_a_session_does(
    sessions: sessionmaker[Session],
) -> None:
    """The job asks `DUE` through `peek` (SQLite's read-only path): same rows, aware datetimes."""
    cfg = config()
    build_incident(sessions, cfg)
    now = T0 + timedelta(minutes=25)
    with sessions.begin() as s:
        refresh_packets(s, cfg, T0 + timedelta(minutes=1))
    params = {"now": now, "since": now - RECENT}
    rows = peek(sessions, DUE, params)
    with sessions() as s:
        assert rows == [tuple(r) for r in s.execute(DUE, params).all()]
    ((_, last, other, previous, at),) = rows
    assert at == T0 + timedelta(minutes=1) and at.tzinfo is not None
    assert last > previous and other > previous  # acknowledged at T0+20
    assert due_incidents(rows, now) == [rows[0][0]]
