"""Retention (`tocsin prune`): old mentions, polls and signals go, buckets stay (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tocsin.prune_cli import prune_main
from worker.ingest import ingest_page
from worker.model import Mention
from worker.storage.models import (
    BucketRow,
    Incident,
    MentionRow,
    Notification,
    PollRow,
    SignalRow,
    Source,
)
from worker.storage.retention import DurationError, parse_duration, prune

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=120)
NEW = NOW - timedelta(days=10)
STEP = 300


def _mentions(topic: str, at: datetime, n: int, prefix: str) -> list[Mention]:
    return [
        Mention(
            platform="bluesky" if k % 2 else "reddit",
            id=f"{prefix}{k}",
            created_at=at + timedelta(minutes=k),
            text=f"{topic} lamp caught fire {k}",
            author=f"a{k}",
            topic=topic,
        )
        for k in range(n)
    ]


def _count(session: Session, model: type) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _buckets(session: Session) -> list[tuple[object, ...]]:
    return [
        tuple(r)
        for r in session.execute(
            select(
                BucketRow.topic, BucketRow.platform, BucketRow.start, BucketRow.count, BucketRow.seq
            ).order_by(BucketRow.topic, BucketRow.platform, BucketRow.start)
        )
    ]


def _signal(topic: str, at: datetime, incident: int | None) -> SignalRow:
    return SignalRow(
        topic=topic,
        kind="volume",
        at=at,
        score=1.0,
        severity=2,
        explanation="x",
        evidence={},
        top_mentions=[],
        incident_id=incident,
    )


def _incident(topic: str, opened: datetime, resolved: datetime | None) -> Incident:
    return Incident(
        topic=topic,
        state="resolved" if resolved else "triggered",
        severity=2,
        kinds=["volume"],
        title="t",
        opened_at=opened,
        updated_at=opened,
        last_signal_at=opened,
        resolved_at=resolved,
    )


def _fill(sessions: sessionmaker[Session]) -> dict[str, int]:
    """Old and recent mentions in two topics (through the real ingest, from a source, so
    source_polls rows are written too), signals of an open and a resolved incident, and
    delivered notifications of both."""
    with sessions.begin() as s:
        src = Source(topic="acme", platform="bluesky", query="acme", cursor={}, enabled=True)
        s.add(src)
        s.flush()
        source_id = src.id
    for topic in ("acme", "globex"):
        for at, n, prefix in ((OLD, 30, "old"), (NEW, 20, "new")):
            with sessions.begin() as s:
                ingest_page(
                    s,
                    _mentions(topic, at, n, prefix),
                    at + timedelta(hours=1),
                    bucket_seconds=STEP,
                    topic=topic,
                    source_id=source_id if topic == "acme" else None,
                    new_cursor={"at": prefix},
                )
    with sessions.begin() as s:
        resolved = _incident("acme", OLD, OLD + timedelta(hours=5))
        still_open = _incident("globex", OLD, None)
        s.add_all([resolved, still_open])
        s.flush()
        s.add_all(
            [
                _signal("acme", OLD, resolved.id),  # old, resolved incident: goes
                _signal("acme", OLD + timedelta(hours=1), None),  # old, no incident: goes
                _signal("globex", OLD, still_open.id),  # old but its incident is open: stays
                _signal("acme", NEW, None),  # recent: stays
            ]
        )
        for k, (inc, status) in enumerate(
            [(resolved, "sent"), (resolved, "pending"), (still_open, "sent")]
        ):
            s.add(
                Notification(
                    incident_id=inc.id,
                    idempotency_key=f"k{k}",
                    recipient="alice",
                    role="oncall",
                    channel="console",
                    address="-",
                    subject="s",
                    body={"text": "Lamp caught fire, says @someone"},
                    status=status,
                    created_at=OLD,
                )
            )
    return {"source_id": source_id}


def test_prune_deletes_old_rows_and_keeps_buckets(sessions: sessionmaker[Session]) -> None:
    """Mentions, polls and signals older than the cut-off go (an open incident's signals stay),
    the bodies of sent notifications of long-resolved incidents are emptied, and every bucket
    row is left exactly as it was."""
    _fill(sessions)
    with sessions() as s:
        assert _count(s, MentionRow) == 100
        assert _count(s, PollRow) == 2
        buckets_before = _buckets(s)
        assert len(buckets_before) > 4

    with sessions() as s:
        result = prune(s, NOW, timedelta(days=90), batch=7, on_batch=s.commit)
        s.commit()
    assert (result.mentions, result.source_polls, result.signals) == (60, 1, 2)
    assert result.notification_bodies == 1
    assert result.buckets_kept == len(buckets_before)
    assert result.cutoff == NOW - timedelta(days=90)

    with sessions() as s:
        assert _buckets(s) == buckets_before
        left = s.scalars(select(MentionRow.external_id)).all()
        assert len(left) == 40 and all(x.startswith("new") for x in left)
        assert _count(s, PollRow) == 1
        assert sorted(
            (t, i is not None) for t, i in s.execute(select(SignalRow.topic, SignalRow.incident_id))
        ) == [("acme", False), ("globex", True)]
        bodies = {(n.idempotency_key, bool(n.body)) for n in s.scalars(select(Notification))}
        assert bodies == {("k0", False), ("k1", True), ("k2", True)}
        assert _count(s, Incident) == 2

    with sessions() as s:  # a second run finds nothing more
        again = prune(s, NOW, timedelta(days=90))
        s.commit()
    assert (again.mentions, again.source_polls, again.signals, again.notification_bodies) == (
        0,
        0,
        0,
        0,
    )


def test_dry_run_counts_and_deletes_nothing(sessions: sessionmaker[Session]) -> None:
    _fill(sessions)
    with sessions() as s:
        result = prune(s, NOW, timedelta(days=90), dry_run=True)
        s.commit()
    assert (result.mentions, result.source_polls, result.signals) == (60, 1, 2)
    assert result.notification_bodies == 1
    with sessions() as s:
        assert _count(s, MentionRow) == 100 and _count(s, SignalRow) == 4


def test_prune_refuses_a_cutoff_inside_the_detectors_history(
    sessions: sessionmaker[Session],
) -> None:
    _fill(sessions)
    with sessions() as s, pytest.raises(ValueError, match="at least 28d"):
        prune(s, NOW, timedelta(days=7))
    with sessions() as s:
        assert _count(s, MentionRow) == 100


@pytest.mark.parametrize(
    ("text", "expected"),
    [("90d", timedelta(days=90)), ("12w", timedelta(weeks=12)), (" 36h ", timedelta(hours=36))],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "90", "d90", "90 days", "-3d", "0d", "1.5d", "9y"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(DurationError, match="not a duration"):
        parse_duration(text)


def test_cli_bad_duration_is_one_line_exit_2() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert prune_main(["--older-than", "ninety"], out, err) == 2
    assert err.getvalue().count("\n") == 1
    assert err.getvalue().startswith("tocsin prune: --older-than: 'ninety' is not a duration")
    assert out.getvalue() == ""


def test_cli_too_short_is_one_line_exit_2(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TOCSIN_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("TOCSIN_DATA_DIR", str(tmp_path / "data"))
    out, err = io.StringIO(), io.StringIO()
    assert prune_main(["--older-than", "7d"], out, err) == 2
    assert err.getvalue().count("\n") == 1 and "at least 28d" in err.getvalue()


def test_cli_prunes_the_configured_database(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`tocsin prune` reads the database from the environment and says what it removed."""
    from worker.storage.db import make_engine, make_sessionmaker

    monkeypatch.setenv("TOCSIN_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("TOCSIN_DATA_DIR", str(tmp_path / "data"))
    engine = make_engine(sqlite_url)
    sessions = make_sessionmaker(engine)
    now = datetime.now(UTC)
    with sessions.begin() as s:
        for at, prefix in ((now - timedelta(days=200), "old"), (now - timedelta(days=1), "new")):
            ingest_page(s, _mentions("acme", at, 5, prefix), at, bucket_seconds=STEP, topic="acme")
    with sessions() as s:
        buckets = _buckets(s)
    out, err = io.StringIO(), io.StringIO()
    assert prune_main(["--older-than", "90d"], out, err) == 0, err.getvalue()
    assert "deleted rows older than" in out.getvalue()
    assert "5 mentions" in out.getvalue() and f"{len(buckets)} buckets kept" in out.getvalue()
    with sessions() as s:
        assert _count(s, MentionRow) == 5
        assert _buckets(s) == buckets
    engine.dispose()
