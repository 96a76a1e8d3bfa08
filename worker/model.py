"""Plain data shared by every stage of the pipeline.

These are the words of the project (mention, topic, source, bucket, signal) as frozen dataclasses:
no database, no clock, no I/O. The storage layer maps them to rows; the core functions take and
return them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: Sentiment labels, as `tocsin score-text` prints them.
NEG, NEU, POS = "neg", "neu", "pos"


@dataclass(frozen=True)
class Mention:
    """One post, article or review that names a topic, as a connector or an import produced it.

    `created_at` is always timezone-aware (UTC after normalisation). `text` is untrusted.
    """

    platform: str
    id: str
    created_at: datetime
    text: str
    url: str | None = None
    author: str | None = None
    author_followers: int | None = None
    lang: str | None = None
    likes: int = 0
    reposts: int = 0
    replies: int = 0
    topic: str | None = None
    in_reply_to: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def engagement(self) -> int:
        return self.likes + self.reposts + self.replies


@dataclass(frozen=True)
class RateLimit:
    """What the platform said about our remaining budget; `reset_at` is UTC."""

    limit: int | None = None
    remaining: int | None = None
    reset_at: datetime | None = None
    retry_after_s: float | None = None


@dataclass(frozen=True)
class Page:
    """One fetch of a source: the mentions it returned and the cursor to resume from.

    `cursor` is opaque to everything but the connector that made it (a JSON-serialisable dict).
    `not_modified` is true when the platform answered "nothing new" (HTTP 304), which is proof
    that the source was watched even though no mention came back.
    """

    mentions: list[Mention]
    cursor: dict[str, Any]
    rate_limit: RateLimit | None = None
    not_modified: bool = False
    more: bool = False
    skipped: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Scored:
    """The language and sentiment of one text."""

    lang: str
    polarity: float
    label: str


@dataclass(frozen=True)
class Bucket:
    """Counts for one topic over one time slot [start, start + width), all platforms together."""

    start: datetime
    count: int = 0
    negative: int = 0
    positive: int = 0
    authors: int = 0
    reach: int = 0
    engagement: int = 0
    crisis_terms: int = 0
    #: Distinct texts (near-duplicates once); `negative` and `positive` count texts too. 0 = unknown.
    texts: int = 0

    @property
    def copies(self) -> int:
        """Mentions that repeat a text already counted (retweets, copy-paste storms)."""
        return max(0, self.count - self.texts) if self.texts else 0


@dataclass(frozen=True)
class Evidence:
    """Why a signal fired, in numbers a person can check and quote."""

    window_start: datetime
    window_end: datetime
    observed: float
    expected: float
    band_low: float
    band_high: float
    probability: float
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Signal:
    """A detector's finding about one topic at one time.

    `kind` is one of: volume_spike, negative_surge, high_reach_post, crisis_terms, silence,
    source_down, spread. `score` is in [0, 1]; `severity` is 1 (worst) to 4.
    `explanation` is a sentence fit to quote in a briefing packet.
    """

    topic: str
    kind: str
    at: datetime
    score: float
    severity: int
    explanation: str
    evidence: Evidence
    top_mentions: tuple[str, ...] = ()
