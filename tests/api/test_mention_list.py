"""The mention list (alerts/mention_list.py) on real SQLite and PostgreSQL: order, filters, keyset
paging (every row once, also while rows are being stored), cursors that are not cursors."""

from __future__ import annotations

import base64
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from alerts.mention_list import MentionFilter, list_mentions
from worker.storage.models import MentionRow

T0 = datetime(2026, 11, 6, 14, 0, tzinfo=UTC)
_ids = itertools.count()


def row(**kw: Any) -> MentionRow:
    n = next(_ids)
    values: dict[str, Any] = {
        "topic": "acme",
        "platform": "x",
        "external_id": f"e{n}",
        "created_at": T0,
        "ingested_at": T0,
        "text": f"post {n}",
        "author": f"a{n}",
        "lang": "en",
        "label": "neu",
        "polarity": 0.0,
        "extra": {},
    }
    values.update(kw)
    return MentionRow(**values)


def add(sessions: sessionmaker[Session], rows: list[MentionRow]) -> list[int]:
    with sessions.begin() as s:
        s.add_all(rows)
        s.flush()
        return [r.id for r in rows]


def every_page(
    sessions: sessionmaker[Session], f: MentionFilter, limit: int, between: Any = None
) -> list[int]:
    seen: list[int] = []
    cursor = None
    while True:
        with sessions() as s:
            page = list_mentions(s, f, cursor=cursor, limit=limit)
        seen += [i["id"] for i in page.items]
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor
        if between is not None:
            between()


def test_newest_first_with_ties_broken_by_id(sessions: sessionmaker[Session]) -> None:
    # Three rows share one created_at: the order must still be total, or a page boundary
    # inside the tie would repeat or skip a row.
    ids = add(
        sessions,
        [row(created_at=T0 - timedelta(minutes=m)) for m in (5, 0, 0, 0, 10, 1)],
    )
    with sessions() as s:
        page = list_mentions(s, MentionFilter(), limit=50)
    assert [i["id"] for i in page.items] == [ids[3], ids[2], ids[1], ids[5], ids[0], ids[4]]
    assert page.next_cursor is None
    assert every_page(sessions, MentionFilter(), limit=2) == [i["id"] for i in page.items]


def test_item_keys_and_values(sessions: sessionmaker[Session]) -> None:
    add(
        sessions,
        [
            row(
                platform="bluesky",
                external_id="at://1",
                url="https://bsky.app/p/1",
                author="zoe",
                author_followers=1200,
                text="<img src=x onerror=alert(1)>",
                lang="fr",
                label="neg",
                polarity=-0.75,
                created_at=T0.astimezone(),
            )
        ],
    )
    with sessions() as s:
        (item,) = list_mentions(s, MentionFilter()).items
    assert {k: v for k, v in item.items() if k != "id"} == {
        "topic": "acme",
        "platform": "bluesky",
        "platform_id": "at://1",
        "url": "https://bsky.app/p/1",
        "author": "zoe",
        "text": "<img src=x onerror=alert(1)>",
        "lang": "fr",
        "label": "neg",
        "score": -0.75,
        "reach": 1200,
        "created_at": "2026-11-06T14:00:00+00:00",
    }


def test_each_filter(sessions: sessionmaker[Session]) -> None:
    t = T0 - timedelta(hours=1)
    ids = add(
        sessions,
        [
            row(topic="acme", platform="x", lang="en", label="neg", author="bob", created_at=t),
            row(
                topic="acme",
                platform="reddit",
                lang="fr",
                label="pos",
                author="eve",
                created_at=t + timedelta(minutes=10),
                text="La Batterie chauffe 100% _vraiment_",
            ),
            row(
                topic="globex",
                platform="x",
                lang="fr",
                label="neg",
                author="bob",
                created_at=t + timedelta(minutes=20),
                text="battery fine",
            ),
            row(
                topic="acme",
                platform="x",
                lang="en",
                label="neu",
                author="ann",
                created_at=t + timedelta(minutes=30),
                text="100 percent ok",
            ),
        ],
    )

    def ids_of(**kw: Any) -> list[int]:
        with sessions() as s:
            return [i["id"] for i in list_mentions(s, MentionFilter(**kw)).items]

    assert ids_of() == ids[::-1]
    assert ids_of(topic="acme") == [ids[3], ids[1], ids[0]]
    assert ids_of(platform="x") == [ids[3], ids[2], ids[0]]
    assert ids_of(lang="fr") == [ids[2], ids[1]]
    assert ids_of(label="neg") == [ids[2], ids[0]]
    assert ids_of(author="bob") == [ids[2], ids[0]]
    assert ids_of(topic="acme", author="bob") == [ids[0]]
    assert ids_of(since=t + timedelta(minutes=10)) == [ids[3], ids[2], ids[1]]  # inclusive
    assert ids_of(until=t + timedelta(minutes=20)) == [ids[1], ids[0]]  # exclusive
    # q: case-insensitive substring; % and _ are characters, not wildcards.
    assert ids_of(q="BATTER") == [ids[2], ids[1]]
    assert ids_of(q="100%") == [ids[1]]
    assert ids_of(q="_vraiment_") == [ids[1]]
    assert ids_of(q="1_0") == []
    with pytest.raises(ValueError, match="q: between 3"):
        ids_of(q="ok")
    assert ids_of(q="nothing like it") == []
    assert ids_of(topic="acme", q="battery") == []  # "Batterie" does not contain "battery"


def test_bad_cursor_and_limit_are_value_errors(sessions: sessionmaker[Session]) -> None:
    bad = [
        "not base64 !",
        "e30",  # {}
        base64.urlsafe_b64encode(b'{"t": "2026-11-06T14:00:00", "i": 1}').decode(),  # naive
        base64.urlsafe_b64encode(b'{"t": "2026-11-06T14:00:00+00:00", "i": "1"}').decode(),
        base64.urlsafe_b64encode(b"[1, 2]").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ]
    with sessions() as s:
        for cursor in bad:
            with pytest.raises(ValueError, match="cursor"):
                list_mentions(s, MentionFilter(), cursor=cursor)
        for limit in (0, 201):
            with pytest.raises(ValueError, match="limit"):
                list_mentions(s, MentionFilter(), limit=limit)
        with pytest.raises(ValueError, match="since"):
            list_mentions(s, MentionFilter(since=datetime(2026, 1, 1)))


def test_paging_returns_every_row_once_while_rows_are_stored(
    sessions: sessionmaker[Session],
) -> None:
    """Between two pages, newer rows, late rows (older than the cursor) and rows at the cursor's
    very instant are stored: no row is repeated, and every row that existed before the first
    page is returned (late rows behind the cursor too)."""
    start = add(
        sessions,
        [row(created_at=T0 - timedelta(minutes=i // 3)) for i in range(60)],  # ties of three
    )
    stored: list[int] = []
    step = itertools.count()

    def meanwhile() -> None:
        k = next(step)
        stored.extend(
            add(
                sessions,
                [
                    row(created_at=T0 + timedelta(minutes=k + 1)),  # newer: before the cursor
                    # late: older than every row listed so far, so behind the cursor
                    row(created_at=T0 - timedelta(minutes=30, seconds=k)),
                    row(created_at=T0 - timedelta(minutes=k)),  # an instant already listed
                ],
            )
        )

    seen = every_page(sessions, MentionFilter(), limit=7, between=meanwhile)
    assert len(seen) == len(set(seen)), "a row came twice"
    assert set(start) <= set(seen), "a row stored before the first page was skipped"
    late = stored[1::3]
    assert set(late) <= set(seen), "a late row behind the cursor was skipped"
    newer = stored[0::3]
    assert not set(newer) & set(seen), "a row newer than the first page showed on a later page"
