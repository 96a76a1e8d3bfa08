"""The edge normaliser: one bad field never costs a post, and one bad post never costs a page."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from worker.ingest import ingest_page
from worker.model import Mention
from worker.normalize import (
    AUTHOR_MAX,
    ENGAGEMENT_MAX,
    EXTERNAL_ID_MAX,
    INT32_MAX,
    TEXT_MAX,
    TRUNCATED,
    Unstorable,
    normalize_mention,
    split_storable,
)
from worker.storage.models import BucketRow, MentionRow

T0 = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


def m(i: int = 1, **kw: object) -> Mention:
    base: dict[str, object] = {
        "platform": "mastodon",
        "id": str(i),
        "created_at": T0,
        "text": "Acme is fine",
        "author": f"user{i}",
    }
    base.update(kw)
    return Mention(**base)  # type: ignore[arg-type]


def test_limits_agree_with_the_mentions_table() -> None:
    """The normaliser's limits are the column sizes of `mentions` (a schema change must update both)."""
    cols = MentionRow.__table__.c
    assert cols.author.type.length == AUTHOR_MAX
    assert cols.external_id.type.length == EXTERNAL_ID_MAX
    assert cols.in_reply_to.type.length == 300 and cols.platform.type.length == 40
    assert cols.topic.type.length == 100 and cols.lang.type.length == 16


def test_fields_are_cut_cleaned_and_clamped() -> None:
    """Over-long text is cut with a marker, controls and lone surrogates go, counts are clamped."""
    out = normalize_mention(
        m(
            author="A" * 330 + "\x00",
            text="line one\r\nline two\x00\x07 \ud800 end" + "x" * 30_000,
            author_followers=10**20,
            likes=2**40,
            reposts=-5,
            replies=float("nan"),  # type: ignore[arg-type]
            url="https://x.example/\x00" + "u" * 10_000,
            lang="en-GB-not-a-tag-at-all-really",
            id="i" * 400,
            in_reply_to="r" * 400,
            extra={
                "score": float("nan"),
                "inf": float("inf"),
                "nested": {"a": [1, {"b": "\x00ok"}]},
            },
        )
    )
    assert len(out.author or "") == AUTHOR_MAX and (out.author or "").endswith(TRUNCATED)
    assert "\x00" not in (out.author or "")
    assert out.text.startswith("line one\nline two \ufffd end") and len(out.text) == TEXT_MAX
    assert out.text.endswith(TRUNCATED)
    assert out.author_followers == INT32_MAX
    assert out.likes == ENGAGEMENT_MAX and out.reposts == 0 and out.replies == 0
    assert out.likes + ENGAGEMENT_MAX * 2 <= INT32_MAX
    assert "\x00" not in (out.url or "") and len(out.url or "") <= 4000
    assert out.lang is None
    assert out.id.startswith("sha256:") and len(out.id) <= EXTERNAL_ID_MAX
    assert (out.in_reply_to or "").startswith("sha256:")
    assert out.extra == {"score": None, "inf": None, "nested": {"a": [1, {"b": "ok"}]}}
    assert normalize_mention(out) == out  # normalising twice changes nothing


def test_deep_and_wide_extra_is_bounded() -> None:
    deep: object = "leaf"
    for _ in range(500):
        deep = {"d": deep}
    out = normalize_mention(m(extra={"deep": deep, "wide": list(range(10_000))}))
    depth, node = 0, out.extra["deep"]
    while isinstance(node, dict):
        node, depth = node["d"], depth + 1
    assert node == TRUNCATED and depth < 10
    assert len(out.extra["wide"]) == 201 and out.extra["wide"][-1] == TRUNCATED


@pytest.mark.parametrize(
    ("when", "reason"),
    [
        (datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))), "cannot be expressed in UTC"),
        (datetime(2026, 9, 1), "no time zone"),
        (datetime(1900, 1, 1, tzinfo=UTC), "outside 1970"),
    ],
)
def test_unrepresentable_dates_are_refused_with_a_reason(when: datetime, reason: str) -> None:
    with pytest.raises(Unstorable, match=reason):
        normalize_mention(m(created_at=when))


def test_split_keeps_the_good_and_names_the_bad() -> None:
    bad = m(2, created_at=datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))))
    good, rejected = split_storable([m(1), bad, m(3, platform="p" * 41), m(4)])
    assert [x.id for x in good] == ["1", "4"]
    assert [(r.external_id, r.reason.split(" ")[0]) for r in rejected] == [
        ("2", "'created_at'"),
        ("3", "'platform'"),
    ]


def test_hostile_mentions_are_stored_on_both_databases(sessions: sessionmaker[Session]) -> None:
    """Each case the issue names (330-character author, 1e20 followers, 2^40 likes, NUL, NaN in
    extra, a lone surrogate) is stored next to a good mention, and the buckets still add up."""
    page = [
        m(1, author="a" * 330),
        m(2, author_followers=10**20, likes=2**40, reposts=2**40, replies=2**40),
        m(3, author="nul\x00author", text="nul\x00text"),
        m(4, extra={"x": math.nan, "y": [math.inf]}),
        m(5, text="lone \udc00 surrogate", author="\ud83d"),
        m(6),
    ]
    with sessions.begin() as s:
        result = ingest_page(s, page, T0, bucket_seconds=300, topic="acme")
    assert result.stored == 6
    with sessions() as s:
        rows = {r.external_id: r for r in s.scalars(select(MentionRow))}
        bucket = s.scalars(select(BucketRow)).one()
    assert sorted(rows) == ["1", "2", "3", "4", "5", "6"]
    assert rows["1"].author is not None and len(rows["1"].author) == AUTHOR_MAX
    assert rows["2"].likes == ENGAGEMENT_MAX and rows["2"].author_followers == INT32_MAX
    assert rows["3"].author == "nulauthor" and rows["3"].text == "nultext"
    assert rows["4"].extra == {"x": None, "y": [None]}
    assert "\ufffd" in rows["5"].text
    assert bucket.count == 6 and bucket.engagement == ENGAGEMENT_MAX * 3


def test_stored_count_is_exact_when_rows_share_a_timestamp(
    sessions: sessionmaker[Session],
) -> None:
    """Ten new mentions at the same instant are ten, not one (the count was over a set of times)."""
    with sessions.begin() as s:
        first = ingest_page(s, [m(i) for i in range(10)], T0, bucket_seconds=300, topic="acme")
    with sessions.begin() as s:
        again = ingest_page(s, [m(i) for i in range(12)], T0, bucket_seconds=300, topic="acme")
    assert (first.stored, first.duplicates) == (10, 0)
    assert (again.stored, again.duplicates) == (2, 10)
