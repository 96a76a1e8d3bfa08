"""A topic's counts over time for the dashboard, read from the buckets (never from the mentions
table, so a chart costs the same on a million mentions as on a hundred).

The **usual band** of a bin is the 10th to 90th percentile of the same bin on the 7 days before
(bins shorter than a day: the same time of day; a day or longer: the 7 bins before), counted only
on days the topic already had data, and only when at least 3 such days exist — otherwise there
is no band yet (a new topic has no "usual").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Integer, Select, cast, func, literal_column, select
from sqlalchemy.orm import Session

from worker.storage.models import BucketRow

DAY = timedelta(days=1)
HISTORY_BINS = 7
MIN_USUAL = 3

#: The topic page's spans: how far back, and how wide each bar is.
SPANS: dict[str, tuple[timedelta, timedelta]] = {
    "24h": (timedelta(hours=24), timedelta(minutes=30)),
    "7d": (timedelta(days=7), timedelta(hours=3)),
    "30d": (timedelta(days=30), timedelta(hours=12)),
}


@dataclass(frozen=True)
class Series:
    start: datetime
    step: timedelta
    mentions: list[int]
    negative: list[int]  # distinct negative texts (near-duplicates once), as the buckets count
    low: list[float]  # empty when there is no usual band yet
    high: list[float]
    texts: int = 0  # distinct texts over the whole series: the negative share's denominator

    @property
    def end(self) -> datetime:
        return self.start + self.step * len(self.mentions)

    def times(self) -> list[datetime]:
        return [self.start + i * self.step for i in range(len(self.mentions))]


def floor_to(at: datetime, step: timedelta) -> datetime:
    seconds = int(step.total_seconds())
    epoch = int(at.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


def _window(end: datetime, span: timedelta, step: timedelta, align: bool) -> tuple[datetime, int]:
    n = int(span / step)
    if align:
        return floor_to(end, step) - (n - 1) * step, n
    return end - n * step, n


def _rows_query(start: datetime, n: int, step: timedelta) -> Select[datetime, int, int, int]:
    back = (DAY if step < DAY else step) * HISTORY_BINS
    return select(
        BucketRow.start,
        func.sum(BucketRow.count),
        func.sum(BucketRow.negative),
        func.sum(BucketRow.texts),
    ).where(BucketRow.start >= start - back, BucketRow.start < start + n * step)


def series(
    session: Session, topic: str, end: datetime, span: timedelta, step: timedelta, *, align: bool
) -> Series:
    """Mentions and negative mentions per `step` over `span` up to `end`, with the usual band.

    With `align`, bins start on multiples of `step` (a chart's bars) and the last bin is the
    running one; without, the last bin ends exactly at `end` ("the last hour")."""
    start, n = _window(end, span, step, align)
    rows = session.execute(
        _rows_query(start, n, step).where(BucketRow.topic == topic).group_by(BucketRow.start)
    ).all()
    return _build(_bins(rows, start, step), start, n, step)


def series_of_topics(
    session: Session,
    topics: Iterable[str] | None,
    end: datetime,
    span: timedelta,
    step: timedelta,
    *,
    align: bool,
) -> tuple[dict[str, Series], set[str]]:
    """`series` for many topics in one grouped query (the overview's cards): the same numbers,
    a constant number of statements however many topics. The database adds the buckets up per
    bin (not per bucket start), so it sends `step / bucket width` times fewer rows.

    `topics=None`: every topic with buckets in the window or its history. Also returns the
    topics with a bucket at or after the window's start (later than its end too): the
    overview shows those even when not configured."""
    start, n = _window(end, span, step, align)
    back = (DAY if step < DAY else step) * HISTORY_BINS
    origin, step_s = (start - back).timestamp(), int(step.total_seconds())
    back_bins = int(back / step)
    # Seconds since `origin` (a float: `end` may fall inside a second), never negative since the
    # WHERE starts there, so truncating to an integer is the floor on both backends.
    if session.get_bind().dialect.name == "sqlite":
        secs: Any = cast(func.strftime("%s", BucketRow.start), Integer) - origin
        k: Any = cast(secs / step_s, Integer)
    else:
        k = func.floor((func.extract("epoch", BucketRow.start) - origin) / step_s)
    names = None if topics is None else sorted(set(topics))
    rows: dict[str, list[Any]] = {name: [] for name in names or ()}
    if names is None or names:
        # No upper bound: bins past the window change no number (see `_build`) and tell which
        # topics have recent buckets.
        q = select(
            BucketRow.topic,
            k.label("bin"),
            func.sum(BucketRow.count),
            func.sum(BucketRow.negative),
            func.sum(BucketRow.texts),
        ).where(BucketRow.start >= start - back)
        if names is not None:
            q = q.where(BucketRow.topic.in_(names))
        for topic, at, count, neg, distinct in session.execute(
            q.group_by(BucketRow.topic, literal_column("bin"))
        ):
            rows.setdefault(topic, []).append((int(at) - back_bins, count, neg, distinct))
    recent = {name for name, got in rows.items() if any(r[0] >= 0 for r in got)}
    return {name: _build(got, start, n, step) for name, got in rows.items()}, recent


def series_of_topics_empty(
    end: datetime, span: timedelta, step: timedelta, *, align: bool
) -> Series:
    """`series` of a topic with no bucket (no query needed)."""
    start, n = _window(end, span, step, align)
    return _build([], start, n, step)


def _bins(rows: Sequence[Any], start: datetime, step: timedelta) -> list[Any]:
    step_s, base = step.total_seconds(), start.timestamp()
    return [(int((at.timestamp() - base) // step_s), *rest) for at, *rest in rows]


def _build(rows: Sequence[Any], start: datetime, n: int, step: timedelta) -> Series:
    """The series from (bin, count, negative, texts) rows, bin 0 starting at `start`."""
    period = DAY if step < DAY else step
    counts: dict[int, int] = {}
    negs: dict[int, int] = {}
    first: int | None = None
    texts = 0
    for k, count, neg, distinct in rows:  # bins at or past `n` count only towards `first`
        if 0 <= k < n:
            texts += int(distinct or 0)
        counts[k] = counts.get(k, 0) + int(count or 0)
        negs[k] = negs.get(k, 0) + int(neg or 0)
        first = k if first is None else min(first, k)
    per = int(period / step)
    low: list[float] = []
    high: list[float] = []
    banded = False
    for i in range(n):
        usual = [
            counts.get(i - d * per, 0)
            for d in range(1, HISTORY_BINS + 1)
            if first is not None and i - d * per >= first
        ]
        if len(usual) >= MIN_USUAL:
            banded = True
            low.append(float(np.percentile(usual, 10)))
            high.append(float(np.percentile(usual, 90)))
        else:
            low.append(0.0)
            high.append(0.0)
    return Series(
        start,
        step,
        [counts.get(i, 0) for i in range(n)],
        [negs.get(i, 0) for i in range(n)],
        low if banded else [],
        high if banded else [],
        texts,
    )


__all__ = ["SPANS", "Series", "floor_to", "series", "series_of_topics", "series_of_topics_empty"]
