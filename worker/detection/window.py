"""What every detector looks at: the latest window of a topic's buckets and the posts in it, and
the count statistics they share (same-window baseline, Poisson tail, who is speaking).

Pure functions over plain data; nothing here decides whether to page.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property, lru_cache

import numpy as np
from numpy.typing import NDArray

from worker.detection.series import scipy_special
from worker.detection.settings import DetectionSettings
from worker.model import Bucket, Mention

_HASHTAG = re.compile(r"#\w+")


def texts_of(b: Bucket) -> int:
    """Distinct texts where known (a retweet storm counts once for sentiment), else the count."""
    return b.texts if b.texts else b.count


def authors_of(b: Bucket) -> int:
    """Distinct authors where known (one author posting 40 times counts once), else the count."""
    return b.authors if b.authors else b.count


@dataclass(frozen=True)
class Voices:
    """Who wrote a set of posts: how many posts were seen, by how many distinct authors, and
    how many followers those authors have together (each author counted once)."""

    posts: int
    authors: int
    reach: int

    def weigh(self, count: float) -> float:
        """`count` (from the buckets) scaled to distinct authors: a count of 40 posts written by
        1 author weighs 1. Without posts to look at, the count stands as it is."""
        if not self.posts:
            return count
        return count * min(1.0, self.authors / self.posts)


def voices(mentions: Sequence[Mention], keep: Callable[[Mention], bool] = lambda m: True) -> Voices:
    """Distinct authors (a post without an author is its own author) and their combined reach."""
    followers: dict[str, int] = {}
    posts = 0
    for m in mentions:
        if not keep(m):
            continue
        posts += 1
        who = f"{m.platform}:{m.author}" if m.author else f"post:{m.platform}:{m.id}"
        followers[who] = max(followers.get(who, 0), m.author_followers or 0)
    return Voices(posts, len(followers), sum(followers.values()))


def busiest_author_buckets(
    mentions: Sequence[Mention], start: datetime, bucket_seconds: int
) -> int:
    """In how many buckets from `start` the most active author posted (0 without posts).

    The volume series counts distinct authors *per bucket*, so one person posting in every
    bucket adds one to each; counted once over the window, they add one in all.
    """
    seen: dict[str, set[int]] = {}
    for m in mentions:
        if not m.author:
            continue  # a post without an author is its own author: one bucket
        i = int((m.created_at - start).total_seconds() // bucket_seconds)
        seen.setdefault(f"{m.platform}:{m.author}", set()).add(i)
    return max((len(b) for b in seen.values()), default=1 if mentions else 0)


def top_author(mentions: Sequence[Mention], keep: Callable[[Mention], bool]) -> tuple[str, int]:
    """The author who wrote the most of the kept posts, and how many."""
    counts = Counter(m.author or "an account" for m in mentions if keep(m))
    if not counts:
        return "", 0
    return counts.most_common(1)[0]


def is_negative(m: Mention) -> bool:
    return m.extra.get("label") == "neg"


@dataclass(frozen=True)
class Columns:
    """A series' per-bucket sums as integer arrays, aligned with its buckets: what a detector sums
    over days or weeks with one slice instead of a loop over `Bucket` objects.

    `worker.topic_series` keeps them up to date between ticks (only new or recounted buckets are
    worked out again); `Columns.of` builds them from buckets. Sums of integers are exact, so a
    figure is the same with or without them.
    """

    ROWS = ("count", "negative", "crisis", "texts")
    #: One row per name of `ROWS`, one column per bucket (`texts` is `texts_of`).
    data: NDArray[np.int64]

    @classmethod
    def of(cls, buckets: Sequence[Bucket]) -> Columns:
        flat = np.fromiter(
            (x for b in buckets for x in (b.count, b.negative, b.crisis_terms, texts_of(b))),
            dtype=np.int64,
            count=4 * len(buckets),
        )
        return cls(flat.reshape(len(buckets), 4).T.copy())

    def __len__(self) -> int:
        return int(self.data.shape[1])

    def row(self, value: str) -> NDArray[np.int64] | None:
        """The row of `value` ("count", "negative", "crisis" or "texts"), None for others."""
        return self.data[self.ROWS.index(value)] if value in self.ROWS else None

    def then(self, more: Columns) -> Columns:
        return Columns(np.concatenate((self.data, more.data), axis=1))

    def part(self, start: int, stop: int | None = None) -> Columns:
        return Columns(self.data[:, start:stop])


def _row(
    columns: Columns | None, buckets: Sequence[Bucket], value: str
) -> NDArray[np.int64] | None:
    """The row of `value` if `columns` match `buckets` (same length), else None."""
    if columns is None or len(columns) != len(buckets):
        return None
    return columns.row(value)


@dataclass(frozen=True)
class Window:
    """The latest `window_minutes` of a topic, as every detector sees it."""

    topic: str
    buckets: Sequence[Bucket]
    settings: DetectionSettings
    #: Buckets in the window (the last n).
    n: int
    start: datetime
    end: datetime
    #: Posts of `recent_mentions` inside the window (all of them for the longest window).
    mentions: Sequence[Mention]
    recent: Sequence[Mention]
    count: int
    negative: int
    texts: int
    #: Negative texts / distinct texts in the window.
    share: float
    #: The same share over the week before the window.
    usual_share: float
    copies: int
    storm: bool
    #: Enough history for "usual for this time of day" (`warmup_hours`).
    warmed_up: bool
    tz: str
    #: `Columns` of `buckets` when the caller keeps them (else None: the loops are used).
    columns: Columns | None = None

    @classmethod
    def of(
        cls,
        topic: str,
        buckets: Sequence[Bucket],
        s: DetectionSettings,
        recent: Sequence[Mention],
        tz: str,
        columns: Columns | None = None,
    ) -> Window | None:
        n = max(1, s.window_minutes * 60 // s.bucket_seconds)
        if len(buckets) < n + 1:
            return None
        last = buckets[-n:]
        start = last[0].start
        end = last[-1].start + timedelta(seconds=s.bucket_seconds)
        in_window = [m for m in recent if start <= m.created_at < end]
        count = sum(b.count for b in last)
        negative = sum(b.negative for b in last)
        texts = sum(texts_of(b) for b in last)
        copies = sum(b.copies for b in last)
        return cls(
            topic=topic,
            buckets=buckets,
            settings=s,
            n=n,
            start=start,
            end=end,
            mentions=in_window,
            recent=recent,
            count=count,
            negative=negative,
            texts=texts,
            # Over distinct texts: 300 retweets of one angry post are one negative text.
            share=negative / texts if texts else 0.0,
            usual_share=usual_negative_share(buckets, n, s, columns),
            copies=copies,
            storm=copies >= max(10, count // 3),
            warmed_up=(len(buckets) - n) * s.bucket_seconds >= s.warmup_hours * 3600,
            tz=tz,
            columns=columns if columns is not None and len(columns) == len(buckets) else None,
        )

    @cached_property
    def hashtags(self) -> list[str]:
        """The window's most used hashtags (worked out when an explanation quotes them)."""
        return hashtags(self.mentions)

    @cached_property
    def negative_voices(self) -> Voices:
        """`voices` of the window's negative posts (the negative surge and its note read it)."""
        return voices(self.mentions, is_negative)

    def baseline(self, value: str) -> Baseline:
        """`baseline` of the topic's whole series for `value`."""
        return baseline(self.buckets, self.n, value, self.settings, self.columns)

    def since(self, start: datetime) -> list[Mention]:
        """Recent posts from `start` to the end of the window."""
        return [m for m in self.recent if start <= m.created_at < self.end]

    @property
    def negative_story(self) -> bool:
        """The share of negative texts rose by `min_share_rise` over its usual level."""
        return self.share >= self.usual_share + self.settings.min_share_rise


@dataclass(frozen=True)
class Baseline:
    expected: float
    low: float
    high: float
    spread: float
    label: str


def _value(b: Bucket, value: str) -> int:
    if value == "volume":
        return authors_of(b)
    if value == "negative":
        return b.negative
    if value == "crisis":
        return b.crisis_terms
    return b.count


def baseline(
    buckets: Sequence[Bucket],
    n: int,
    value: str,
    s: DetectionSettings,
    columns: Columns | None = None,
) -> Baseline:
    """Median of the same window on earlier days (or weeks), with a band from the quartiles.

    With `columns` of the same buckets, the sums are slices of an array (same figures)."""
    per_day = 86_400 // s.bucket_seconds
    per_week = per_day * 7
    end = len(buckets)
    row = _row(columns, buckets, value)
    period, label = (per_week, "week") if end - n >= 2 * per_week else (per_day, "day")
    sums: list[float] = []
    days = min(8, (end - n) // period)  # the windows k = 1 … days periods back
    if row is not None and days and n <= period:
        # The same windows as rows of one reshape: row r is k = days − r (integer sums, exact).
        block = row[end - n - days * period : end - n].reshape(days, period)[:, :n]
        sums = [float(x) for x in block.sum(axis=1).tolist()[::-1]]
    for k in range(len(sums) + 1, days + 1):
        a, b = end - n - k * period, end - k * period
        if row is not None:
            sums.append(float(int(row[a:b].sum())))
        else:
            sums.append(float(sum(_value(x, value) for x in buckets[a:b])))
    if not sums:
        # Less than a day of history: the mean of every earlier window-sized slice.
        prior = buckets[: end - n]
        if row is not None:
            total = int(row[: end - n].sum())
        else:
            total = sum(_value(x, value) for x in prior)
        mean = total * n / max(1, len(prior))
        sums = [mean]
    sums.sort()
    med = (
        sums[len(sums) // 2]
        if len(sums) % 2
        else (sums[len(sums) // 2 - 1] + sums[len(sums) // 2]) / 2
    )
    q1, q3 = sums[len(sums) // 4], sums[(3 * len(sums)) // 4]
    return Baseline(max(med, s.min_expected), q1, max(q3, med), max(0.0, q3 - q1), label)


def usual_negative_share(
    buckets: Sequence[Bucket], n: int, s: DetectionSettings, columns: Columns | None = None
) -> float:
    """Negative texts / distinct texts over the week before the window.

    With buckets narrower than 5 minutes, every k-th bucket of the week is read (at most 2,016,
    a week of 5-minute buckets): an unbiased estimate that keeps one evaluation under 1 ms.
    With `columns` of the same buckets, the week is two slices of an array (same figure).
    """
    per_week = 7 * 86_400 // s.bucket_seconds
    step = max(1, per_week // 2016)
    end = len(buckets) - n
    texts, negatives = _row(columns, buckets, "texts"), _row(columns, buckets, "negative")
    if texts is not None and negatives is not None:
        lo = max(0, end - per_week)
        total, negative = int(texts[lo:end:step].sum()), int(negatives[lo:end:step].sum())
        return negative / total if total else 0.0
    total = negative = 0
    for i in range(max(0, end - per_week), end, step):
        x = buckets[i]
        total += x.texts or x.count
        negative += x.negative
    return negative / total if total else 0.0


def tail(observed: float, expected: float, spread: float) -> float:
    """P(X ≥ observed) for a Poisson whose mean allows for the usual day-to-day spread."""
    lam = expected + spread
    k = math.ceil(observed) - 1
    if k < 0:
        return 1.0  # P(X ≥ 0)
    # `scipy.stats.poisson.sf(k, lam)` is `pdtrc(k, lam)` after argument checks that cost more
    # than the sum, and importing `scipy.stats` costs a third of a second; imported at its first
    # use (see series.scipy_special).
    return float(scipy_special("pdtrc")(k, lam))


def hashtags(mentions: Sequence[Mention]) -> list[str]:
    tags: Counter[str] = Counter()
    for m in mentions:
        tags.update(_tags(m.text))
    return [t for t, c in tags.most_common(3) if c >= 3]


@lru_cache(maxsize=4096)
def _tags(text: str) -> tuple[str, ...]:
    """A text's distinct hashtags, lower case, in the order of the set they were collected in
    (the order `Counter.update` saw them in before this cache, which decides ties): a post stays
    in the window for several ticks."""
    return tuple({t.lower() for t in _HASHTAG.findall(text)})


def top(mentions: Sequence[Mention], negative_only: bool = False, k: int = 5) -> tuple[str, ...]:
    """The ids of the `k` posts with the most reach (followers + 10 × engagement)."""
    pool = [m for m in mentions if not negative_only or is_negative(m)]
    pool.sort(key=lambda m: (m.author_followers or 0) + 10 * m.engagement, reverse=True)
    return tuple(m.id for m in pool[:k])
