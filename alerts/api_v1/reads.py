"""What `/api/v1` reads that no other module already reads: a topic's state and hourly series,
the signal list, the archive of reports sent. (Incidents come from `alerts.queries`, mentions from
`alerts.mention_list`, on call from `alerts.api_incidents.oncall_rows`, sources from
`worker.sources.status`.)"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alerts.queries import list_incidents
from worker.config import Config
from worker.storage.models import BucketRow, Notification, SignalRow, TopicState


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def topic_names(session: Session, config: Config) -> list[str]:
    """The configured topics, then any topic that only has stored data (a replayed one)."""
    seen = list(config.topics)
    for (name,) in session.execute(select(TopicState.topic).order_by(TopicState.topic)):
        if name not in config.topics:
            seen.append(name)
    return seen


def _open_incidents(session: Session) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for inc in list_incidents(session, open_only=True, limit=10_000):
        out.setdefault(inc["topic"], inc)
    return out


def _hour_counts(
    session: Session, topics: list[str], now: datetime
) -> dict[str, tuple[int, int, int]]:
    """(count, negative, texts) per topic over the buckets that started in the last hour."""
    rows = session.execute(
        select(
            BucketRow.topic,
            func.coalesce(func.sum(BucketRow.count), 0),
            func.coalesce(func.sum(BucketRow.negative), 0),
            func.coalesce(func.sum(BucketRow.texts), 0),
        )
        .where(
            BucketRow.topic.in_(topics),
            BucketRow.start >= now - timedelta(hours=1),
            BucketRow.start <= now,
        )
        .group_by(BucketRow.topic)
    )
    return {t: (int(c), int(n), int(x)) for t, c, n, x in rows}


def topic_rows(
    session: Session, config: Config, now: datetime, only: str | None = None
) -> list[dict[str, Any]]:
    names = [only] if only is not None else topic_names(session, config)
    counts = _hour_counts(session, names, now)
    last = dict(
        session.execute(
            select(TopicState.topic, TopicState.last_mention_at).where(TopicState.topic.in_(names))
        ).all()
    )
    incidents = _open_incidents(session)
    out = []
    for name in names:
        count, negative, texts = counts.get(name, (0, 0, 0))
        inc = incidents.get(name)
        out.append(
            {
                "name": name,
                "display_name": config.topic(name).display_name,
                "last_hour": count,
                "negative_last_hour": negative,
                "negative_share": round(negative / texts, 4) if texts else None,
                "last_mention_at": _iso(last.get(name)),
                "open_incident": None
                if inc is None
                else {k: inc[k] for k in ("id", "severity", "state", "title", "opened_at")},
            }
        )
    return out


def topic_exists(session: Session, config: Config, name: str) -> bool:
    if name in config.topics:
        return True
    return session.get(TopicState, name) is not None


def hourly_series(
    session: Session, topic: str, now: datetime, hours: int
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Hourly totals over every platform for the `hours` hours ending at `now` (every hour
    present, zeros included), and the mentions per platform over the same span."""
    end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = end - timedelta(hours=hours)
    points: dict[datetime, list[int]] = {
        start + timedelta(hours=i): [0, 0, 0, 0, 0] for i in range(hours)
    }
    platforms: dict[str, int] = defaultdict(int)
    rows = session.execute(
        select(
            BucketRow.start,
            BucketRow.platform,
            BucketRow.count,
            BucketRow.negative,
            BucketRow.positive,
            BucketRow.texts,
            BucketRow.reach,
        ).where(BucketRow.topic == topic, BucketRow.start >= start, BucketRow.start < end)
    )
    for at, platform, count, neg, pos, texts, reach in rows:
        hour = at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        p = points[hour]
        for i, v in enumerate((count, neg, pos, texts, reach)):
            p[i] += int(v or 0)
        platforms[platform] += int(count or 0)
    series = [
        {
            "start": _iso(at),
            "count": p[0],
            "negative": p[1],
            "positive": p[2],
            "texts": p[3],
            "reach": p[4],
        }
        for at, p in sorted(points.items())
    ]
    return series, dict(sorted(platforms.items()))


def list_signals(
    session: Session,
    *,
    topic: str | None = None,
    kind: str | None = None,
    incident_id: int | None = None,
    since: datetime | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Signals newest first."""
    stmt = select(SignalRow).order_by(SignalRow.at.desc(), SignalRow.id.desc()).limit(limit)
    if topic is not None:
        stmt = stmt.where(SignalRow.topic == topic)
    if kind is not None:
        stmt = stmt.where(SignalRow.kind == kind)
    if incident_id is not None:
        stmt = stmt.where(SignalRow.incident_id == incident_id)
    if since is not None:
        stmt = stmt.where(SignalRow.at >= since)
    return [
        {
            "id": s.id,
            "topic": s.topic,
            "kind": s.kind,
            "at": _iso(s.at),
            "score": s.score,
            "severity": s.severity,
            "explanation": s.explanation,
            "top_mentions": list(s.top_mentions or []),
            "evidence": dict(s.evidence or {}),
            "incident_id": s.incident_id,
        }
        for s in session.scalars(stmt)
    ]


def list_reports(session: Session, limit: int = 100) -> list[dict[str, Any]]:
    """The reports written to the outbox (`alerts.reports.send`), newest first, one row per
    report: its name is in each notification's idempotency key `report:NAME:PERSON:CHANNEL`."""
    by_name: dict[str, dict[str, Any]] = {}
    first_id: dict[str, int] = {}
    for nid, key, subject, created, status in session.execute(
        select(
            Notification.id,
            Notification.idempotency_key,
            Notification.subject,
            Notification.created_at,
            Notification.status,
        )
        .where(Notification.role == "report")
        .order_by(Notification.id)
    ):
        name = key.split(":")[1] if key.count(":") >= 3 else key
        r = by_name.get(name)
        if r is None:
            first_id[name] = nid
            r = by_name[name] = {
                "name": name,
                "kind": name.split("-", 1)[0],
                "title": subject,
                "summary": "",
                "sent_at": _iso(created),
                "recipients": 0,
                "delivered": 0,
            }
        r["recipients"] += 1
        r["delivered"] += status == "sent"
    rows = sorted(by_name.values(), key=lambda r: (r["sent_at"], r["name"]), reverse=True)[:limit]
    if rows:
        bodies: dict[int, Any] = dict(
            session.execute(
                select(Notification.id, Notification.body).where(
                    Notification.id.in_([first_id[r["name"]] for r in rows])
                )
            ).all()
        )
        for r in rows:
            r["summary"] = str((bodies.get(first_id[r["name"]]) or {}).get("summary", ""))
    return rows


__all__ = [
    "hourly_series",
    "list_reports",
    "list_signals",
    "topic_exists",
    "topic_names",
    "topic_rows",
]
