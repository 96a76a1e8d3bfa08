"""One report period (a week, a month or a span) as plain data, read from the database.

Counts are of stored mentions, so each (topic, platform, id) counts once (the table is unique on
it), inside [start, end) — or [start, now) while the period is still running ("partial").
Shares are of mentions (not of distinct texts): negative_share = negative mentions / mentions.
Coverage comes from `source_polls`: polls, ok polls, and the longest time without an ok answer.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, distinct, func, select
from sqlalchemy.orm import Session

from alerts.packets.content import _themes, reach_label
from worker.config import Config
from worker.localtime import local, show
from worker.storage.models import Incident, MentionRow, PollRow

SEV = {1: "SEV1", 2: "SEV2", 3: "SEV3", 4: "SEV4"}
#: A gap longer than this between two ok answers of a source is reported as the source being down.
DOWN_AFTER = timedelta(minutes=60)


@dataclass(frozen=True)
class Period:
    kind: str  # week | month | span
    label: str  # 2026-W45 | 2026-11 | 2026-11-02T00:00..2026-11-06T00:00
    start: datetime
    end: datetime
    previous_start: datetime  # the period before, of the same length (a month: the month before)


def _iso(at: datetime | None) -> str | None:
    return at.astimezone(UTC).isoformat() if at else None


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def _counts(session: Session, topic: str, a: datetime, b: datetime) -> tuple[int, int, int, int]:
    """(mentions, distinct authors, negative, positive) of a topic in [a, b)."""
    row = session.execute(
        select(
            func.count(),
            func.count(distinct(MentionRow.author)),
            func.coalesce(func.sum(case((MentionRow.label == "neg", 1), else_=0)), 0),
            func.coalesce(func.sum(case((MentionRow.label == "pos", 1), else_=0)), 0),
        ).where(MentionRow.topic == topic, MentionRow.created_at >= a, MentionRow.created_at < b)
    ).one()
    return int(row[0]), int(row[1]), int(row[2]), int(row[3])


def coverage(
    session: Session, topic: str, start: datetime, stop: datetime, tz: str
) -> dict[str, dict[str, Any]]:
    """Per platform: polls, ok polls, the longest gap between ok answers (minutes) and where.

    The gap is measured from the last ok answer before the period (or the first poll in it) to
    each ok answer, and from the last ok answer to the period's end: a source that stopped
    answering on Saturday and never came back shows that whole time as its gap."""
    out: dict[str, dict[str, Any]] = {}
    platforms = session.scalars(
        select(PollRow.platform)
        .distinct()
        .where(PollRow.topic == topic, PollRow.at >= start, PollRow.at < stop)
    ).all()
    for platform in sorted(platforms):
        polls = session.execute(
            select(PollRow.at, PollRow.health)
            .where(
                PollRow.topic == topic,
                PollRow.platform == platform,
                PollRow.at >= start,
                PollRow.at < stop,
            )
            .order_by(PollRow.at)
        ).all()
        before = session.scalar(
            select(func.max(PollRow.at)).where(
                PollRow.topic == topic,
                PollRow.platform == platform,
                PollRow.health == "ok",
                PollRow.at < start,
            )
        )
        oks = [p.at for p in polls if p.health == "ok"]
        anchor = max(before, start) if before else polls[0].at
        marks = [anchor, *oks, stop]
        gap, gap_from = timedelta(0), anchor
        for a, b in itertools.pairwise(marks):
            if b - a > gap:
                gap, gap_from = b - a, a
        out[platform] = {
            "polls": len(polls),
            "ok": len(oks),
            "longest_gap_minutes": round(gap.total_seconds() / 60),
            "gap_from": show(gap_from, tz, "%a %H:%M"),
            "failed": Counter(p.health for p in polls if p.health != "ok"),
        }
    return out


def topic_report(
    session: Session, config: Config, topic: str, period: Period, now: datetime
) -> dict[str, Any]:
    """One topic's numbers for the period; keys after `coverage` are for the pages, not the JSON."""
    tz = config.timezone
    stop = min(period.end, now)
    n, authors, neg, pos = _counts(session, topic, period.start, stop)
    pn, pauthors, pneg, ppos = _counts(session, topic, period.previous_start, period.start)
    length = period.end - period.start
    # The four periods before this one (of its length): their average, and their pooled shares.
    avg4 = [
        _counts(session, topic, period.start - k * length, period.start - (k - 1) * length)
        for k in range(1, 5)
    ]
    n4, neg4, pos4 = (sum(c[i] for c in avg4) for i in (0, 2, 3))
    incidents = session.scalars(
        select(Incident)
        .where(
            Incident.topic == topic,
            Incident.opened_at >= period.start,
            Incident.opened_at < stop,
        )
        .order_by(Incident.opened_at, Incident.id)
    ).all()
    rows = session.execute(
        select(
            MentionRow.created_at,
            MentionRow.label,
            MentionRow.platform,
            MentionRow.external_id,
            MentionRow.url,
            MentionRow.text,
            MentionRow.author,
            MentionRow.author_followers,
            MentionRow.likes,
            MentionRow.reposts,
            MentionRow.replies,
            MentionRow.dup_key,
        ).where(
            MentionRow.topic == topic,
            MentionRow.created_at >= period.start,
            MentionRow.created_at < stop,
        )
    ).all()
    positives = [r for r in rows if r.label == "pos"]
    groups: dict[str, list[Any]] = defaultdict(list)
    for r in positives:
        groups[r.dup_key or r.text.strip().lower()].append(r)
    best = sorted(
        (
            max(g, key=lambda r: (r.likes + r.reposts + r.replies, r.author_followers or 0))
            for g in groups.values()
        ),
        key=lambda r: (
            -(r.likes + r.reposts + r.replies),
            -(r.author_followers or 0),
            r.external_id,
        ),
    )[:3]
    earlier_pos = list(
        session.scalars(
            select(MentionRow.text)
            .where(
                MentionRow.topic == topic,
                MentionRow.label == "pos",
                MentionRow.created_at >= period.start - 4 * length,
                MentionRow.created_at < period.start,
            )
            .limit(5000)
        )
    )
    themes = _themes([r.text for r in positives], earlier_pos, top=5)
    # Mentions per local day, for the small chart.
    days: Counter[str] = Counter()
    negs: Counter[str] = Counter()
    day_labels = []
    d = local(period.start, tz).date()
    last_day = local(period.end - timedelta(seconds=1), tz).date()
    fmt = "%a" if period.kind == "week" else "%d"
    while d <= last_day:
        day_labels.append(d)
        d += timedelta(days=1)
    for r in rows:
        key = local(r.created_at, tz).date().isoformat()
        days[key] += 1
        negs[key] += r.label == "neg"
    return {
        "topic": topic,
        "mentions": n,
        "mentions_previous": pn,
        "distinct_authors": authors,
        "negative_share": _share(neg, n),
        "negative_share_previous": _share(pneg, pn),
        "positive_share": _share(pos, n),
        "incidents": [
            {
                "id": i.id,
                "severity": SEV.get(i.severity, f"SEV{i.severity}"),
                "opened_at": _iso(i.opened_at),
                "acknowledged_at": _iso(
                    i.acknowledged_at if i.acknowledged_at and i.acknowledged_at <= now else None
                ),
                "resolved_at": _iso(
                    i.resolved_at if i.resolved_at and i.resolved_at <= now else None
                ),
                "acknowledged_by": i.acknowledged_by
                if i.acknowledged_at and i.acknowledged_at <= now
                else None,
            }
            for i in incidents
        ],
        "top_positive": [
            {
                "platform": r.platform,
                "id": r.external_id,
                "url": r.url
                if r.url and r.url.lower().startswith(("https://", "http://"))
                else None,
                "text": r.text[:500],
                "author": r.author,
                "reach": int(r.author_followers or 0),
            }
            for r in best
        ],
        "themes": themes,
        "coverage": coverage(session, topic, period.start, stop, tz),
        # For the pages only (not in the JSON):
        "_display_name": config.topic(topic).display_name,
        "_mentions_avg4": round(n4 / 4, 1),
        "_authors_previous": pauthors,
        "_authors_avg4": round(sum(c[1] for c in avg4) / 4, 1),
        "_negative_share_avg4": _share(neg4, n4),
        "_positive_share_previous": _share(ppos, pn),
        "_positive_share_avg4": _share(pos4, n4),
        "_engagement": {r.external_id: r.likes + r.reposts + r.replies for r in best},
        "_days": [x.strftime(fmt) for x in day_labels],
        "_day_mentions": [days[x.isoformat()] for x in day_labels],
        "_day_negative": [negs[x.isoformat()] for x in day_labels],
        "_titles": {i.id: i.title for i in incidents},
    }


def _n(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _minutes(td: timedelta) -> str:
    m = round(td.total_seconds() / 60)
    return f"{m} min" if m < 60 else f"{m // 60} h {m % 60:02d} min"


def summary(topics: list[dict[str, Any]], period: Period, config: Config, quiet: bool) -> str:
    """The report's first sentence(s): good news first, then incidents, then the proof of watch."""
    tz = config.timezone
    word = {"week": "this week", "month": "this month", "span": "in this period"}[period.kind]
    last = {"week": "last week", "month": "last month", "span": "the period before"}[period.kind]
    total = sum(t["mentions"] for t in topics)
    parts: list[str] = []
    platforms = sorted(
        {p for t in topics for p in t["coverage"]}
        | {p for t in topics for p in config.topic(t["topic"]).queries}
    )
    if total:
        pos = sum(round((t["positive_share"] or 0) * t["mentions"]) for t in topics)
        prev_total = sum(t["mentions_previous"] for t in topics)
        prev_pos = sum(
            round((t["_positive_share_previous"] or 0) * t["mentions_previous"]) for t in topics
        )
        share = 100 * pos / total
        change = ""
        if prev_total:
            delta = share - 100 * prev_pos / prev_total
            change = (
                f" (up {delta:.0f} points on {last})"
                if delta >= 0.5
                else f" (down {-delta:.0f} points on {last})"
                if delta <= -0.5
                else f" (as {last})"
            )
        best = [p for t in topics for p in t["top_positive"]]
        good = (
            f"Good news first: {share:.0f}% of the {total:,} mentions {word} were positive{change}"
        )
        if best:
            b = best[0]
            good += f"; the best-received post was on {b['platform']} by {b['author'] or 'an unknown author'}"
        parts.append(good + ".")
    incidents = [(t, i) for t in topics for i in t["incidents"]]
    serious = [(t, i) for t, i in incidents if i["severity"] in ("SEV1", "SEV2")]
    if not total:
        parts.append(
            f"No mentions at all {word}: tocsin watched {_n(len(topics), 'topic')} on "
            f"{_n(len(platforms), 'platform')} and stored nothing, which is not the same as quiet; "
            "check that the sources still answer."
        )
    elif quiet:
        minor = (
            f" ({len(incidents)} minor: {', '.join(i['severity'] for _, i in incidents)})"
            if incidents
            else ""
        )
        parts.append(
            f"No incident {word}{minor}."
            if not incidents
            else f"No serious incident {word}{minor}."
        )
    else:
        lines = []
        for t, i in serious:
            opened = datetime.fromisoformat(i["opened_at"])
            s = f"{i['severity']} on {t['_display_name']} opened {show(opened, tz, '%a %H:%M')}"
            if i["acknowledged_at"]:
                s += f", acknowledged by {i['acknowledged_by']} after {_minutes(datetime.fromisoformat(i['acknowledged_at']) - opened)}"
            else:
                s += ", never acknowledged"
            if i["resolved_at"]:
                s += f", resolved after {_minutes(datetime.fromisoformat(i['resolved_at']) - opened)}"
            lines.append(s)
        many = "s" if len(serious) > 1 else ""
        parts.append(f"{len(serious)} serious incident{many} {word}: " + "; ".join(lines) + ".")
    cov = [(t, p, c) for t in topics for p, c in t["coverage"].items()]
    if not cov:
        parts.append(
            "tocsin has no record of polling in this period (mentions were imported or replayed "
            "from a file), so it cannot prove it watched continuously."
        )
    else:
        t, p, c = max(cov, key=lambda x: x[2]["longest_gap_minutes"])
        gap = timedelta(minutes=c["longest_gap_minutes"])
        watched = f"tocsin watched {_n(len(topics), 'topic')} on {_n(len(platforms), 'platform')}"
        if gap <= DOWN_AFTER:
            parts.append(
                f"{watched}; every source answered at least every {max(1, math.ceil(gap.total_seconds() / 60))} minutes "
                f"(longest gap: {_minutes(gap)} on {p}, {c['gap_from']})."
            )
        else:
            down = [
                f"{pp} ({tt['topic']}) did not answer for {_minutes(timedelta(minutes=cc['longest_gap_minutes']))} "
                f"from {cc['gap_from']}"
                + (
                    f" ({', '.join(f'{k} ×{v}' for k, v in sorted(cc['failed'].items()))})"
                    if cc["failed"]
                    else ""
                )
                for tt, pp, cc in cov
                if timedelta(minutes=cc["longest_gap_minutes"]) > DOWN_AFTER
            ]
            were = "a source was down" if len(down) == 1 else f"{len(down)} sources were down"
            parts.append(
                f"{watched}, but {were}: "
                + "; ".join(down)
                + ": mentions from that time may be missing."
            )
    return " ".join(parts)


__all__ = ["Period", "coverage", "reach_label", "summary", "topic_report"]
