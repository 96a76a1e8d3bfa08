"""The briefing packet: one page an executive can read on a phone, never logging in.

What happened (the signals' own sentences), how big, where, the top posts, themes, the timeline and
a holding statement to adapt. Built from the database as plain data, rendered with autoescaping:
mention text is hostile input and only http(s) links are ever clickable.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from alerts.channels.render import env
from worker.localtime import show
from worker.storage.models import Incident, IncidentEvent, MentionRow, SignalRow

HOLDING = {
    "en": (
        "We are aware of reports about {name} concerning {issue}. We take this seriously, are "
        "looking into it now, and will share an update by {when}. If you are affected, please "
        "contact us directly so we can help."
    ),
    "fr": (
        "Nous avons connaissance de signalements concernant {name} au sujet de {issue}. Nous les "
        "prenons très au sérieux, nous les examinons dès maintenant et publierons un point "
        "d'étape d'ici {when}. Si vous êtes concerné, contactez-nous directement afin que nous "
        "puissions vous aider."
    ),
}
ISSUE = {
    "en": {
        "volume_spike": "a sudden rise in conversation",
        "negative_surge": "customer concerns",
        "high_reach_post": "a widely shared post",
        "crisis_terms": "a possible incident",
    },
    "fr": {
        "volume_spike": "une forte hausse des échanges",
        "negative_surge": "des inquiétudes de clients",
        "high_reach_post": "une publication très relayée",
        "crisis_terms": "un possible incident",
    },
}
EVENT_TEXT = {
    "opened": "Incident opened",
    "updated": "New signal",
    "severity_raised": "Severity raised",
    "escalated_severe": "Now severe: leadership paged",
    "step_fired": "Escalation step {step} sent",
    "acknowledged": "Acknowledged by {actor}",
    "resolved": "Resolved ({reason})",
    # On call and incident actions (alerts.actions, alerts.opening, alerts.firing).
    "reopened": "Reopened: back {resolved_minutes_ago} minutes after it was resolved",
    "repaged": "Worse (SEV{severity}): step {step} paged again",
    "snoozed": "Snoozed by {actor} for {minutes:g} minutes",
    "snooze_ended": "Snooze over: escalation resumed",
    "note": "Note by {actor}: {text}",
    "reassigned": "Reassigned to {to} by {actor}",
    "page_deferred": "Page to {person} held until their quiet hours end ({until_shown})",
    "step_problem": "Problem: {problem}",
}


def _safe_url(url: str | None) -> str | None:
    return url if url and url.lower().startswith(("https://", "http://")) else None


def _reach(n: int) -> str:
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if n >= size:
            return f"{n / size:.1f}{suffix}"
    return str(n)


def _event_text(e: IncidentEvent) -> str:
    template = EVENT_TEXT.get(e.kind, e.kind)
    try:
        return template.format(actor=e.actor or "someone", **e.detail)
    except (KeyError, IndexError):
        return template.split(" (")[0].replace("{actor}", e.actor or "someone")


def build_packet(
    session: Session, incident_id: int, now: datetime, tz: str = "UTC"
) -> dict[str, Any]:
    """Everything the packet page shows; times in the zone `tz` (`[tocsin] timezone`)."""
    inc = session.get(Incident, incident_id)
    if inc is None:
        raise LookupError(f"incident {incident_id} does not exist")
    since = inc.opened_at - timedelta(hours=1)
    until = inc.resolved_at or now
    window = (
        MentionRow.topic == inc.topic,
        MentionRow.created_at >= since,
        MentionRow.created_at < until,
    )
    by_platform = session.execute(
        select(
            MentionRow.platform,
            func.count(),
            func.sum(case((MentionRow.label == "neg", 1), else_=0)),
        )
        .where(*window)
        .group_by(MentionRow.platform)
    ).all()
    total = sum(int(c) for _, c, _ in by_platform)
    negative = sum(int(n or 0) for _, _, n in by_platform)
    authors = (
        session.scalar(select(func.count(func.distinct(MentionRow.author))).where(*window)) or 0
    )
    reach = (
        session.scalar(
            select(func.coalesce(func.sum(MentionRow.author_followers), 0)).where(*window)
        )
        or 0
    )
    signals = session.scalars(
        select(SignalRow).where(SignalRow.incident_id == inc.id).order_by(SignalRow.at)
    ).all()
    top_ids = list(dict.fromkeys(i for s in signals for i in (s.top_mentions or [])))[:8]
    top = session.scalars(
        select(MentionRow).where(MentionRow.topic == inc.topic, MentionRow.external_id.in_(top_ids))
    ).all()
    if not top:
        top = session.scalars(
            select(MentionRow)
            .where(*window, MentionRow.label == "neg")
            .order_by(MentionRow.author_followers.desc().nulls_last())
            .limit(5)
        ).all()
    langs = Counter(session.scalars(select(MentionRow.lang).where(*window)).all())
    lang = "fr" if langs.get("fr", 0) > langs.get("en", 0) else "en"
    themes = _themes(session, inc.topic, inc.opened_at, until)
    kinds = [k for k in inc.kinds if k in ISSUE[lang]] or ["volume_spike"]
    statement = HOLDING[lang].format(
        name=inc.title.split(":")[0],
        issue=ISSUE[lang][kinds[0]],
        when=show(now + timedelta(hours=2), tz, "%H:%M"),
    )
    events = session.scalars(
        select(IncidentEvent)
        .where(IncidentEvent.incident_id == inc.id)
        .order_by(IncidentEvent.at, IncidentEvent.id)
    ).all()
    return {
        "id": inc.id,
        "topic": inc.topic,
        "title": inc.title,
        "severity": inc.severity,
        "state": inc.state,
        "kinds": list(inc.kinds),
        "lang": lang,
        "opened_at": show(inc.opened_at, tz),
        "acknowledged_at": show(inc.acknowledged_at, tz, "%H:%M") if inc.acknowledged_at else None,
        "acknowledged_by": inc.acknowledged_by,
        "resolved_at": show(inc.resolved_at, tz) if inc.resolved_at else None,
        "explanations": list(dict.fromkeys(s.explanation for s in signals))[-6:]
        or list(inc.summary.get("explanations", [])),
        "size": {
            "mentions": total,
            "negative_pct": round(100 * negative / total) if total else 0,
            "authors": int(authors),
            "reach": int(reach),
            "reach_label": _reach(int(reach)),
        },
        "where": [
            {"platform": p, "count": int(c), "negative": int(n or 0)}
            for p, c, n in sorted(by_platform, key=lambda r: -int(r[1]))
        ],
        "top_posts": [
            {
                "text": m.text[:500],
                "author": m.author,
                "platform": m.platform,
                "followers": m.author_followers or 0,
                "safe_url": _safe_url(m.url),
            }
            for m in top[:5]
        ],
        "themes": themes,
        "timeline": [{"at": show(e.at, tz, "%a %H:%M"), "text": _event_text(e)} for e in events],
        # People's notes (alerts.actions.add_note) belong to "what we know", under the signals.
        "notes": [
            {"by": e.actor, "text": str(e.detail.get("text", "")), "at": show(e.at, tz, "%a %H:%M")}
            for e in events
            if e.kind == "note"
        ],
        "reopened": int(inc.summary.get("reopened", 0)),
        "holding_statement": statement,
        "generated_at": show(now, tz),
    }


def _themes(
    session: Session, topic: str, start: datetime, end: datetime
) -> list[tuple[str, float]]:
    from worker.text import themes

    def texts(a: datetime, b: datetime) -> list[str]:
        return list(
            session.scalars(
                select(MentionRow.text)
                .where(
                    MentionRow.topic == topic, MentionRow.created_at >= a, MentionRow.created_at < b
                )
                .limit(3000)
            )
        )

    window = texts(start - timedelta(minutes=30), end)
    baseline = texts(start - timedelta(days=7), start - timedelta(minutes=30))
    return [(t, float(lift)) for t, lift in themes(window, baseline, top=6)]


def render_packet_html(packet: dict[str, Any]) -> str:
    return env().get_template("packet.html").render(p=packet, lang=packet.get("lang", "en"))


def write_packet(directory: Path, packet: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "packet.json").write_text(
        json.dumps(packet, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    index = directory / "index.html"
    index.write_text(render_packet_html(packet), encoding="utf-8")
    return index
