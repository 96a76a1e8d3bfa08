"""Ingest on real SQLite and real PostgreSQL: dedupe, bucket counts, cursor, all in one transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from worker.ingest import bucket_start, ingest_page
from worker.model import Mention
from worker.pipeline import load_series, store_signals, sync_sources
from worker.storage.models import BucketRow, MentionRow, Source

T0 = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


def mention(
    i: int,
    text: str = "Acme is great",
    *,
    author: str | None = None,
    minutes: float = 0,
    platform: str = "mastodon",
) -> Mention:
    return Mention(
        platform=platform,
        id=str(i),
        created_at=T0 + timedelta(minutes=minutes),
        text=text,
        author=author or f"user{i}",
        author_followers=100,
        likes=2,
    )


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_same_page_twice_stores_once_and_counts_stay(sessions: sessionmaker[Session]) -> None:
    """Ingesting the same page twice changes nothing the second time (idempotent)."""
    page = [mention(i, minutes=i) for i in range(6)]
    with sessions.begin() as s:
        first = ingest_page(s, page, T0, bucket_seconds=300, topic="acme")
    with sessions.begin() as s:
        second = ingest_page(s, page, T0, bucket_seconds=300, topic="acme")
    assert (first.stored, second.stored, second.duplicates) == (6, 0, 6)
    with sessions() as s:
        assert count(s, MentionRow) == 6
        buckets = {b.start: b.count for b in s.scalars(select(BucketRow))}
    assert buckets == {T0: 5, T0 + timedelta(minutes=5): 1}


def test_buckets_count_distinct_authors_and_negatives(sessions: sessionmaker[Session]) -> None:
    """One author posting many times counts once in `authors`; negatives are counted by label,
    and near-identical copies of one text (a retweet storm) count once for sentiment."""
    page = [
        mention(i, f"RT @x: This is terrible, awful service, I hate it https://t.co/{i}", author=a)
        for i, a in enumerate(["angry", "angry", "bot1", "bot2", "bot3"])
    ]
    page.append(mention(98, "I love it, wonderful", author="happy"))
    page.append(mention(99, "Worst delivery ever, never again", author="other"))
    with sessions.begin() as s:
        ingest_page(s, page, T0, bucket_seconds=300, topic="acme")
    with sessions() as s:
        b = s.scalars(select(BucketRow)).one()
    assert (b.count, b.authors, b.texts) == (7, 6, 3)
    assert b.negative == 2 and b.positive == 1


def test_cursor_advances_only_from_the_cursor_the_fetch_started_with(
    sessions: sessionmaker[Session],
) -> None:
    """A stale poll stores its mentions but never moves the cursor backwards."""
    with sessions.begin() as s:
        s.add(Source(topic="acme", platform="rss", query="http://x/feed", cursor={"etag": "a"}))
    with sessions.begin() as s:
        src = s.scalars(select(Source)).one()
        r1 = ingest_page(
            s,
            [mention(1)],
            T0,
            bucket_seconds=300,
            topic="acme",
            source_id=src.id,
            expected_cursor={"etag": "a"},
            new_cursor={"etag": "b"},
        )
    with sessions.begin() as s:
        src = s.scalars(select(Source)).one()
        r2 = ingest_page(
            s,
            [mention(2)],
            T0,
            bucket_seconds=300,
            topic="acme",
            source_id=src.id,
            expected_cursor={"etag": "a"},
            new_cursor={"etag": "stale"},
        )
    with sessions() as s:
        src = s.scalars(select(Source)).one()
        assert src.cursor == {"etag": "b"}
        assert (src.healthy, src.polls_ok, src.mentions_total) == (True, 2, 2)
        assert count(s, MentionRow) == 2
    assert r1.cursor_advanced and not r2.cursor_advanced


def test_failed_transaction_keeps_cursor_and_mentions_out(sessions: sessionmaker[Session]) -> None:
    """If the transaction fails, neither the mentions nor the new cursor are kept."""
    with sessions.begin() as s:
        s.add(Source(topic="acme", platform="rss", query="q", cursor={}))
    with pytest.raises(RuntimeError), sessions.begin() as s:
        src = s.scalars(select(Source)).one()
        ingest_page(
            s,
            [mention(1)],
            T0,
            bucket_seconds=300,
            topic="acme",
            source_id=src.id,
            expected_cursor={},
            new_cursor={"etag": "new"},
        )
        raise RuntimeError("crash after ingest, before commit")
    with sessions() as s:
        assert count(s, MentionRow) == 0
        assert s.scalars(select(Source)).one().cursor == {}


def test_hostile_text_is_stored_verbatim(sessions: sessionmaker[Session]) -> None:
    """Mention text is data: markup and quotes are stored as they came (escaping is at render)."""
    hostile = '<script>alert(1)</script> "; DROP TABLE mentions; -- \x00'
    with sessions.begin() as s:
        ingest_page(s, [mention(1, hostile)], T0, bucket_seconds=300, topic="acme")
    with sessions() as s:
        assert s.scalars(select(MentionRow.text)).one() == hostile.replace("\x00", "")


def test_naive_timestamp_is_refused(sessions: sessionmaker[Session]) -> None:
    """A mention without a time zone is a bug upstream and is refused with its id."""
    naive = Mention(platform="x", id="7", created_at=datetime(2026, 9, 1), text="t")
    with pytest.raises(ValueError, match="x/7"), sessions.begin() as s:
        ingest_page(s, [naive], T0, bucket_seconds=300, topic="acme")


def test_load_series_fills_gaps_and_excludes_the_running_bucket(
    sessions: sessionmaker[Session],
) -> None:
    """The series has one bucket per slot (zeros for gaps) and stops before the incomplete one."""
    with sessions.begin() as s:
        ingest_page(
            s,
            [mention(1, minutes=0), mention(2, minutes=12, platform="reddit")],
            T0,
            bucket_seconds=300,
            topic="acme",
        )
    now = T0 + timedelta(minutes=17)
    with sessions() as s:
        total, per = load_series(s, "acme", now, 300, history=timedelta(hours=1))
    assert total[-1].start == bucket_start(now, 300) - timedelta(minutes=5)
    assert [b.count for b in total[-3:]] == [1, 0, 1]
    assert sum(b.count for b in per["reddit"]) == 1
    assert all((b.start - total[0].start).total_seconds() % 300 == 0 for b in total)


def test_store_signals_is_idempotent(sessions: sessionmaker[Session]) -> None:
    """The same (topic, kind, at) signal stored twice yields one row; the second call returns no id."""
    from worker.model import Evidence, Signal

    ev = Evidence(T0, T0 + timedelta(hours=1), 40, 5, 2, 9, 0.999, {"note": "x"})
    sig = Signal("acme", "volume_spike", T0, 0.9, 2, "Mentions of acme: 40", ev, ("1",))
    with sessions.begin() as s:
        first = store_signals(s, [sig])
    with sessions.begin() as s:
        second = store_signals(s, [sig])
    assert len(first) == 1 and second == []


def test_sync_sources_follows_the_config(sessions: sessionmaker[Session]) -> None:
    """Sources are created from the topics' queries and disabled when removed from the config."""
    from worker.config import parse_config

    cfg = parse_config('[[topics]]\nname = "a"\n[topics.queries]\nrss = ["http://1", "http://2"]\n')
    with sessions.begin() as s:
        assert len(sync_sources(s, cfg)) == 2
    cfg2 = parse_config('[[topics]]\nname = "a"\n[topics.queries]\nrss = ["http://2"]\n')
    with sessions.begin() as s:
        assert len(sync_sources(s, cfg2)) == 1
        assert {(x.query, x.enabled) for x in s.scalars(select(Source))} == {
            ("http://1", False),
            ("http://2", True),
        }


def test_a_later_page_recounts_a_stored_bucket(sessions: sessionmaker[Session]) -> None:
    """A page whose mentions fall in a bucket already stored rewrites every count of that bucket
    (the UPSERT's update side: one statement per page on PostgreSQL), and stamps the new version."""
    with sessions.begin() as s:
        ingest_page(s, [mention(i, minutes=i) for i in range(2)], T0, bucket_seconds=300, topic="a")
    later = [mention(10 + i, "This is terrible, awful service", minutes=2 + i) for i in range(2)]
    with sessions.begin() as s:
        ingest_page(s, later, T0, bucket_seconds=300, topic="a")
    with sessions() as s:
        (b,) = s.scalars(select(BucketRow)).all()
    assert (b.count, b.negative, b.authors, b.reach, b.engagement, b.texts) == (4, 1, 4, 400, 8, 2)
    assert b.seq == 2
