"""SQLAlchemy 2 models: the durable state of tocsin.

One table per concept: sources (with cursor and health), mentions, buckets, signals, incidents with
their timeline, acknowledgements, notifications (the outbox) and delivery attempts. Durable
schedules are columns (`sources.next_poll_at`, `incidents.next_due_at`,
`notifications.next_attempt_at`), advanced by short beat ticks; no long-sleeping tasks.
Times are stored as timezone-aware UTC (`UtcDateTime` restores the zone on SQLite, which drops it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend.

    PostgreSQL keeps `timestamptz`; SQLite stores naive text, so values are converted to UTC on the
    way in and given back their zone on the way out. A naive value is a bug and is refused.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: tocsin stores only aware UTC times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class Source(Base):
    """One (topic, platform, query) we poll, with its cursor and health."""

    __tablename__ = "sources"
    __table_args__ = (UniqueConstraint("topic", "platform", "query", name="uq_sources_tpq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic: Mapped[str] = mapped_column(String(100))
    platform: Mapped[str] = mapped_column(String(40))
    query: Mapped[str] = mapped_column(Text)
    cursor: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    healthy: Mapped[bool] = mapped_column(Boolean, default=True)
    next_poll_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_polled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_success_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    polls_ok: Mapped[int] = mapped_column(Integer, default=0)
    mentions_total: Mapped[int] = mapped_column(Integer, default=0)
    #: The last poll's health word (ok, rate_limited, auth_failed, unavailable, bad_response);
    #: None until the first poll.
    health: Mapped[str | None] = mapped_column(String(20), nullable=True)


class SourceBudget(Base):
    """One platform budget shared by every source that uses the same credentials.

    Header-read budgets (Mastodon, Bluesky, Reddit, X) keep what the platform said last
    (`remaining` until `reset_at`), counted down locally between answers. Self-kept budgets
    (Hacker News per hour, YouTube per Pacific day) count `spent` in the window starting at
    `window_start`. `blocked_until` is set by a refusal (429, quota exceeded): no request is
    made before it.
    """

    __tablename__ = "source_budgets"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    platform: Mapped[str] = mapped_column(String(40))
    limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    remaining: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reset_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    window_start: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    spent: Mapped[int] = mapped_column(Integer, default=0)
    blocked_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class PollRow(Base):
    """One poll of one source: when, how it went, how much it brought.

    The proof of watch: the weekly summary reads these rows to say that every source answered
    (and the longest gap between answers), and `tocsin sources` shows the latest ones.
    `health` is one of ok, rate_limited, auth_failed, unavailable, bad_response.
    """

    __tablename__ = "source_polls"
    __table_args__ = (Index("ix_source_polls_topic_at", "topic", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    topic: Mapped[str] = mapped_column(String(100))
    platform: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    health: Mapped[str] = mapped_column(String(20))
    fetched: Mapped[int] = mapped_column(Integer, default=0)
    new: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)


class MentionRow(Base):
    """A stored mention. Unique per (topic, platform, external id): storing it twice is a no-op."""

    __tablename__ = "mentions"
    __table_args__ = (
        UniqueConstraint("topic", "platform", "external_id", name="uq_mentions_tpe"),
        # The mention list (alerts/mention_list.py) pages by (created_at, id), newest first.
        Index("ix_mentions_topic_created_id", "topic", "created_at", "id"),
        Index("ix_mentions_created_id", "created_at", "id"),
        Index("ix_mentions_topic_platform_created_id", "topic", "platform", "created_at", "id"),
        Index("ix_mentions_author_created_id", "author", "created_at", "id"),
        Index("ix_mentions_topic_seq", "topic", "seq"),
        # Case-insensitive substring search (ILIKE) on PostgreSQL, with pg_trgm (0008_mention_list).
        Index(
            "ix_mentions_text_trgm",
            "text",
            postgresql_using="gin",
            postgresql_ops={"text": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    topic: Mapped[str] = mapped_column(String(100))
    platform: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ingested_at: Mapped[datetime] = mapped_column(UtcDateTime)
    text: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text, nullable=True)
    author: Mapped[str | None] = mapped_column(String(300), nullable=True)
    author_followers: Mapped[int | None] = mapped_column(Integer, nullable=True)
    lang: Mapped[str] = mapped_column(String(16), default="unknown")
    polarity: Mapped[float] = mapped_column(Float, default=0.0)
    label: Mapped[str] = mapped_column(String(3), default="neu")
    likes: Mapped[int] = mapped_column(Integer, default=0)
    reposts: Mapped[int] = mapped_column(Integer, default=0)
    replies: Mapped[int] = mapped_column(Integer, default=0)
    in_reply_to: Mapped[str | None] = mapped_column(String(300), nullable=True)
    dup_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    crisis_terms: Mapped[int] = mapped_column(Integer, default=0)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: The topic's data version of the ingest that stored it (see `TopicState`).
    seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class BucketRow(Base):
    """Counts for one topic, one platform, one time slot; recomputed from mentions on ingest."""

    __tablename__ = "buckets"
    __table_args__ = (Index("ix_buckets_topic_seq", "topic", "seq"),)

    topic: Mapped[str] = mapped_column(String(100), primary_key=True)
    platform: Mapped[str] = mapped_column(String(40), primary_key=True)
    start: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    #: Distinct texts (near-duplicates once): a retweet storm of 500 copies is one text here.
    texts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: Negative and positive count distinct texts too, so a storm cannot swing the share.
    negative: Mapped[int] = mapped_column(Integer, default=0)
    positive: Mapped[int] = mapped_column(Integer, default=0)
    authors: Mapped[int] = mapped_column(Integer, default=0)
    reach: Mapped[int] = mapped_column(BigInteger, default=0)
    engagement: Mapped[int] = mapped_column(BigInteger, default=0)
    crisis_terms: Mapped[int] = mapped_column(Integer, default=0)
    #: The topic's data version (`topic_state.version`) of the ingest that last wrote this row:
    #: an evaluation reads only the rows written since the version it last saw.
    seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class TopicState(Base):
    """Per topic: a data version bumped by every ingest, and what the last evaluation saw.

    The ingest transaction bumps `version` with one conditional UPSERT; the row lock it takes
    serialises the ingests of one topic, so versions commit in order and a reader that saw version
    V has seen every bucket row written at V or before. `evaluated_version` / `evaluated_through`
    tell the evaluation job which topics have something new (`worker.pipeline.topics_due`).
    """

    __tablename__ = "topic_state"

    topic: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    last_mention_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    evaluated_version: Mapped[int] = mapped_column(BigInteger, default=0)
    evaluated_through: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    evaluated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class VolumeStateRow(Base):
    """What the volume detector worked out for one bucket of a topic (all platforms together).

    Kept so that judging the newest bucket needs lookups, not a pass over weeks of history:
    the expected count, the burstiness (spread) and the surprise of every earlier bucket.
    `value` is the bucket's count (distinct authors) when the state was worked out: if late
    mentions recount the bucket, it no longer matches, and the state from that bucket on is
    worked out again (`worker.pipeline.load_volume_state`).
    """

    __tablename__ = "volume_state"

    topic: Mapped[str] = mapped_column(String(100), primary_key=True)
    bucket_seconds: Mapped[int] = mapped_column(Integer, primary_key=True)
    start: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)
    expected: Mapped[float] = mapped_column(Float)
    spread: Mapped[float] = mapped_column(Float)
    surprise: Mapped[float] = mapped_column(Float)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)


class SignalRow(Base):
    """A detector's finding. Unique per (topic, kind, at): evaluating the same instant twice is a no-op."""

    __tablename__ = "signals"
    __table_args__ = (UniqueConstraint("topic", "kind", "at", name="uq_signals_tka"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    score: Mapped[float] = mapped_column(Float)
    severity: Mapped[int] = mapped_column(Integer)
    explanation: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    top_mentions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), nullable=True
    )


class Incident(Base):
    """A crisis being handled. At most one open (not resolved) incident per topic.

    `fence` is bumped by every escalation step, acknowledgement and resolution; a step or a send
    that carries an older fence does nothing. `policy` is a snapshot of the escalation policy taken
    when the incident opened, so later edits to the config never change a running escalation.
    """

    __tablename__ = "incidents"
    __table_args__ = (
        Index(
            "uq_incidents_one_open_per_topic",
            "topic",
            unique=True,
            sqlite_where=text("state != 'resolved'"),
            postgresql_where=text("state != 'resolved'"),
        ),
        Index("ix_incidents_due", "next_due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(20), default="triggered")
    severity: Mapped[int] = mapped_column(Integer)
    kinds: Mapped[list[Any]] = mapped_column(JSON, default=list)
    title: Mapped[str] = mapped_column(Text)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_signal_at: Mapped[datetime] = mapped_column(UtcDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    snoozed_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    peak: Mapped[float] = mapped_column(Float, default=0.0)
    policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    next_step: Mapped[int] = mapped_column(Integer, default=0)
    next_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    fence: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Step due times count from here (the opening, unless a snooze or a reassignment moved it).
    escalation_base_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    #: Bumped when the escalation starts over (snooze ended, reopened, reassigned); part of each
    #: notification's idempotency key, so a new round may page again what an old one paged.
    escalation_round: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: Set by a reassignment: on-call steps page this person instead of their targets.
    assigned_to: Mapped[str | None] = mapped_column(String(200), nullable=True)


class IncidentEvent(Base):
    """One row of an incident's timeline: opened, updated, step fired, acknowledged, resolved…"""

    __tablename__ = "incident_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    kind: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str | None] = mapped_column(String(200), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class PacketVersion(Base):
    """One generation of an incident's briefing packet, kept so that an executive can see what
    they were told at 14:15. `last_event_id` is the newest timeline row the version covers."""

    __tablename__ = "packet_versions"
    __table_args__ = (UniqueConstraint("incident_id", "version", name="uq_packet_versions_iv"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    generated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_event_id: Mapped[int] = mapped_column(Integer)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)


class Acknowledgement(Base):
    """Who acknowledged, when and how. `token_id` makes each signed link single-use."""

    __tablename__ = "acknowledgements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    by: Mapped[str] = mapped_column(String(200))
    via: Mapped[str] = mapped_column(String(20))
    token_id: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)


class Notification(Base):
    """One message to one recipient on one channel: a row of the outbox.

    Written in the same transaction as the escalation step that justifies it; delivered by the
    dispatcher with retries and backoff. `idempotency_key` makes writing it twice a no-op.
    """

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), nullable=True, index=True
    )
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    step: Mapped[int] = mapped_column(Integer, default=0)
    fence: Mapped[int] = mapped_column(Integer, default=0)
    recipient: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(40))
    address: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: What the vendor answered about the delivered message (Slack channel and ts, Twilio sid):
    #: how a later acknowledgement finds the message to update (alerts.outbox follow-ups).
    receipt: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class DeliveryAttempt(Base):
    """Every try to deliver a notification, successful or not."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_id: Mapped[int] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    channel: Mapped[str] = mapped_column(String(40))
    ok: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class Heartbeat(Base):
    """The last run of a periodic job (evaluation, escalation tick, dead man's switch, …).

    One row per job name, overwritten by every run: when it last ran, how long it took, how many
    runs so far. The dead man's switch and `/metrics` read these rows, so they see every process.
    """

    __tablename__ = "heartbeats"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    runs: Mapped[int] = mapped_column(BigInteger, default=0)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class User(Base):
    """An account of the web app and the API (issue #16): a name, a role, an argon2 password hash.

    A new account has no password: `setup_hash` is the SHA-256 of its one-time set-password link
    token, valid until `setup_expires_at`. `disabled` accounts cannot log in or use tokens.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str | None] = mapped_column(Text, nullable=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    password_set_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    setup_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    setup_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class WebSession(Base):
    """A logged-in browser: the cookie holds a random token, the row its SHA-256 (a stolen
    database copy cannot be replayed as a cookie). `csrf` is the session's form token."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    client: Mapped[str | None] = mapped_column(String(100), nullable=True)


class ApiToken(Base):
    """A personal bearer token for `/api/v1`, acting with its user's role. Stored as SHA-256;
    `prefix` (the first characters) lets a person tell their tokens apart in `tocsin token list`."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class LoginAttempt(Base):
    """One try to log in, by account name (as typed) and client address: the login throttle
    counts recent failures per name and per address."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_name_at", "name", "at"),
        Index("ix_login_attempts_client_at", "client", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    name: Mapped[str] = mapped_column(String(200))
    client: Mapped[str] = mapped_column(String(100))
    ok: Mapped[bool] = mapped_column(Boolean)
