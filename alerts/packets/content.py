"""What the briefing packet says, as plain data: built from the database as of `now`.

The first screen answers five questions in plain words (what is happening, since when, how big
and is it growing or fading, where, who is on it and when the next update comes); below come the
chart, what we know and do not know yet, the top posts (near-duplicates merged), the themes, the
condensed timeline and the holding statements. Everything is read "as of `now`" (mentions created
before it, timeline rows up to it), so a packet rebuilt for 14:15 says what was known at 14:15.
Mention text is hostile input: it is kept as text here and escaped by every renderer.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from math import floor
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.packets.words import (
    ANSWER_LABELS,
    CATEGORY_LABEL,
    CATEGORY_LABEL_FR,
    THEME_STOP,
    category,
    condense_timeline,
    holding_statements,
    kinds_phrase,
    said,
    same_word,
)
from worker.config import Config
from worker.localtime import show
from worker.storage.models import Incident, IncidentEvent, MentionRow, PollRow, SignalRow

#: Chart bins: wide enough to read a day and a half on a phone.
BIN = timedelta(minutes=30)
#: The chart starts this long before the incident opened.
BEFORE = timedelta(days=1)
#: Platforms that are news, for "picked up by news".
NEWS = frozenset({"rss", "news"})
#: 3: answers in the team's language, `since` without its label word, `answer_labels`.
PACKET_FORMAT = 3


def _safe_url(url: str | None) -> str | None:
    return url if url and url.lower().startswith(("https://", "http://")) else None


def reach_label(n: int) -> str:
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if n >= size:
            return f"{n / size:.1f}{suffix}"
    return str(n)


def _floor(at: datetime, step: timedelta) -> datetime:
    seconds = int(step.total_seconds())
    epoch = int(at.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


def _state_at(session: Session, inc: Incident, now: datetime) -> dict[str, Any]:
    """Severity, kinds and state as they were at `now`, from the timeline."""
    severity, kinds = inc.severity, list(inc.kinds)
    events = session.scalars(
        select(IncidentEvent)
        .where(IncidentEvent.incident_id == inc.id, IncidentEvent.at <= now)
        .order_by(IncidentEvent.at, IncidentEvent.id)
    ).all()
    for e in events:
        if isinstance(e.detail.get("severity"), int) and e.kind in (
            "opened",
            "updated",
            "severity_raised",
        ):
            severity = int(e.detail["severity"])
            kinds = list(e.detail.get("kinds") or kinds)
    resolved = inc.resolved_at if inc.resolved_at and inc.resolved_at <= now else None
    acked = inc.acknowledged_at if inc.acknowledged_at and inc.acknowledged_at <= now else None
    state = "resolved" if resolved else "acknowledged" if acked else "triggered"
    if not resolved and inc.state == "snoozed":
        state = "snoozed"
    return {
        "severity": severity,
        "kinds": kinds,
        "state": state,
        "resolved_at": resolved,
        "acknowledged_at": acked,
        "acknowledged_by": inc.acknowledged_by if acked else None,
        "events": list(events),
    }


def build_packet(
    session: Session,
    incident_id: int,
    now: datetime,
    tz: str = "UTC",
    config: Config | None = None,
) -> dict[str, Any]:
    """Everything the packet shows, as of `now`; times shown in the zone `tz`."""
    inc = session.get(Incident, incident_id)
    if inc is None:
        raise LookupError(f"incident {incident_id} does not exist")
    st = _state_at(session, inc, now)
    display = inc.title.split(":")[0]
    title = f"{display}: {kinds_phrase(st['kinds'])}"
    until = st["resolved_at"] or now
    since = inc.opened_at - timedelta(hours=1)
    chart_start = _floor(inc.opened_at - BEFORE, BIN)
    chart_end = min(now, (st["resolved_at"] + timedelta(hours=2)) if st["resolved_at"] else now)
    rows = session.execute(
        select(*POST_COLUMNS, MentionRow.lang).where(
            MentionRow.topic == inc.topic,
            MentionRow.created_at >= chart_start - timedelta(days=7),
            MentionRow.created_at < max(chart_end, until),
        )
    ).all()
    window = [r for r in rows if since <= r.created_at < until]
    total = len(window)
    negative = sum(r.label == "neg" for r in window)
    authors = len({r.author for r in window if r.author})
    # Combined followers: each author once (at their largest count seen), however often they post.
    followers: dict[str, int] = {}
    reach = 0
    for r in window:
        if r.author:
            followers[r.author] = max(followers.get(r.author, 0), int(r.author_followers or 0))
        else:
            reach += int(r.author_followers or 0)
    reach += sum(followers.values())
    by_platform: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in window:
        by_platform[r.platform][0] += 1
        by_platform[r.platform][1] += r.label == "neg"
    where = [
        {"platform": p, "count": c, "negative": n}
        for p, (c, n) in sorted(by_platform.items(), key=lambda kv: (-kv[1][0], kv[0]))
    ]
    last_hour = sum(until - timedelta(hours=1) <= r.created_at < until for r in window)
    hour_before = sum(
        until - timedelta(hours=2) <= r.created_at < until - timedelta(hours=1) for r in window
    )
    if st["resolved_at"]:
        trend = "over"
    elif last_hour > 1.25 * hour_before + 2:
        trend = "growing"
    elif last_hour < 0.8 * hour_before - 2:
        trend = "fading"
    else:
        trend = "steady"
    first_signal = session.scalar(
        select(SignalRow.at)
        .where(SignalRow.incident_id == inc.id, SignalRow.at <= now)
        .order_by(SignalRow.at)
        .limit(1)
    )
    langs = Counter(r.lang for r in window)
    lang = "fr" if langs.get("fr", 0) > langs.get("en", 0) else "en"
    team_lang = config.reports.language if config is not None else "en"
    cat = category([r.text for r in window if r.label == "neg"] or [r.text for r in window])
    next_update = _floor(now + timedelta(hours=1) + timedelta(minutes=14), timedelta(minutes=15))
    top = _top_posts(window, tz)
    before = [r for r in rows if r.created_at < since]
    themes = _themes(
        [r.text for r in window],
        [r.text for r in before],
        window_keys=[r.dup_key for r in window],
        baseline_keys=[r.dup_key for r in before],
    )
    pkt: dict[str, Any] = {
        "format": PACKET_FORMAT,
        "id": inc.id,
        "topic": inc.topic,
        "display_name": display,
        "title": title,
        "severity": st["severity"],
        "state": st["state"],
        "kinds": st["kinds"],
        "category": cat,
        "category_label": CATEGORY_LABEL[cat],
        "lang": lang,
        "opened_at": show(inc.opened_at, tz),
        "first_signal_at": show(first_signal, tz) if first_signal else None,
        "acknowledged_at": show(st["acknowledged_at"], tz, "%H:%M")
        if st["acknowledged_at"]
        else None,
        "acknowledged_by": st["acknowledged_by"],
        "resolved_at": show(st["resolved_at"], tz) if st["resolved_at"] else None,
        "next_update": None if st["resolved_at"] else show(next_update, tz, "%H:%M"),
        "size": {
            "mentions": total,
            "negative_pct": round(100 * negative / total) if total else 0,
            "authors": authors,
            "reach": reach,
            "reach_label": reach_label(reach),
            "last_hour": last_hour,
            "hour_before": hour_before,
            "trend": trend,
        },
        "where": where,
        "top_posts": top,
        "themes": themes,
        "timeline": condense_timeline(st["events"], inc.policy, tz),
        # People's notes (alerts.actions.add_note) belong to "what we know" too.
        "notes": [
            {"by": e.actor, "text": str(e.detail.get("text", "")), "at": show(e.at, tz, "%a %H:%M")}
            for e in st["events"]
            if e.kind == "note"
        ],
        "explanations": list(
            dict.fromkeys(
                session.scalars(
                    select(SignalRow.explanation)
                    .where(SignalRow.incident_id == inc.id, SignalRow.at <= now)
                    .order_by(SignalRow.at.desc())
                    .limit(1)
                )
            )
        )
        or list(inc.summary.get("explanations", []))[:1],
        "holding_statements": holding_statements(
            cat, display, now + timedelta(hours=2), tz, first=team_lang
        ),
        "chart": _chart(rows, chart_start, chart_end, inc, st, tz),
        "generated_at": show(now, tz),
        "timezone": tz,
        "generated_at_iso": now.astimezone(UTC).isoformat(),
    }
    pkt["known"], pkt["unknown"] = _known(session, pkt, inc, window, config, now, tz)
    times = {
        "opened": inc.opened_at,
        "first_signal": first_signal,
        "acknowledged": st["acknowledged_at"],
        "resolved": st["resolved_at"],
        "next_update": None if st["resolved_at"] else next_update,
    }
    answer_lang = team_lang if team_lang in ANSWER_LABELS else "en"
    pkt["answer_lang"] = answer_lang
    pkt["answer_labels"] = [list(x) for x in ANSWER_LABELS[answer_lang]]
    pkt["headline"] = (
        f"{display} : {CATEGORY_LABEL_FR[cat]}"
        if answer_lang == "fr"
        else f"{display}: {CATEGORY_LABEL[cat]}"
    )
    pkt["answers"] = _answers(pkt, times, tz, answer_lang)
    return pkt


#: The mention columns `_top_posts` (and the packet's counts) read.
POST_COLUMNS = (
    MentionRow.created_at,
    MentionRow.label,
    MentionRow.platform,
    MentionRow.author,
    MentionRow.author_followers,
    MentionRow.external_id,
    MentionRow.dup_key,
    MentionRow.text,
    MentionRow.url,
)


def _top_posts(window: list[Any], tz: str, limit: int = 5) -> list[dict[str, Any]]:
    """The most-reached distinct texts: near-duplicates (same `dup_key`) merged with a count.

    Negative texts first (the packet is about a crisis), then the others if there are too few."""
    groups: dict[str, list[Any]] = defaultdict(list)
    for r in window:
        groups[r.dup_key or r.text.strip().lower()].append(r)
    ranked = sorted(
        groups.values(),
        key=lambda g: (
            not any(r.label == "neg" for r in g),
            -sum(int(r.author_followers or 0) for r in g),
            min(r.created_at for r in g),
        ),
    )
    out = []
    for g in ranked[:limit]:
        lead = max(g, key=lambda r: (int(r.author_followers or 0), -r.created_at.timestamp()))
        out.append(
            {
                "text": lead.text[:500],
                "author": lead.author,
                "platform": lead.platform,
                "id": lead.external_id,
                "reach": sum(int(r.author_followers or 0) for r in g),
                "reach_label": reach_label(sum(int(r.author_followers or 0) for r in g)),
                "copies": len(g),
                "at": show(min(r.created_at for r in g), tz, "%a %H:%M"),
                "safe_url": _safe_url(lead.url),
            }
        )
    return out


def _distinct(texts: Sequence[str], keys: Sequence[str | None] | None) -> list[str]:
    """The first text of each near-duplicate group, in order. `keys` are the ones ingest stored
    (`dup_key`: `worker.text.near_duplicate_key` of the text), worked out here when missing."""
    from worker.text import near_duplicate_key

    seen: dict[str, str] = {}
    for t, k in zip(texts, keys or [None] * len(texts), strict=True):
        seen.setdefault(k or near_duplicate_key(t) or t, t)
    return list(seen.values())


def _themes(
    window: Sequence[str],
    baseline: Sequence[str],
    top: int = 6,
    *,
    window_keys: Sequence[str | None] | None = None,
    baseline_keys: Sequence[str | None] | None = None,
) -> list[dict[str, Any]]:
    """Themes whose share rose, without stop words; the lift is shown only when the usual
    period had enough posts with the term to compare with (3 or more), else the theme is "new".

    Near-duplicates count once on each side: grouped here (by the stored keys when given), so
    `themes` gets one text per group and finds each of them alone."""
    from worker.text import stop_words, themes

    stop = stop_words()
    win_texts, base_texts = _distinct(window, window_keys), _distinct(baseline, baseline_keys)
    found = themes(win_texts, base_texts, top=top * 2)
    win, base = [t.lower() for t in win_texts], [t.lower() for t in base_texts]
    out: list[dict[str, Any]] = []
    for term, lift in found:
        words = term.lstrip("#").split()
        if all(w in stop or w in THEME_STOP for w in words):
            continue
        if any(same_word(term, t["term"]) for t in out):
            continue
        posts = sum(term in t for t in win)
        usual = sum(term in t for t in base)
        if posts < 2:
            continue
        out.append({"term": term, "posts": posts, "lift": round(lift, 1) if usual >= 3 else None})
        if len(out) == top:
            break
    return out


def percentile(ordered: Sequence[int], q: int) -> float:
    """`numpy.percentile(ordered, q)` (its default, linear interpolation) of a few sorted counts,
    with numpy's very operations, so the same float: without numpy's dispatch, which cost more
    than the arithmetic for the chart's two percentiles of at most 7 numbers per bin."""
    n = len(ordered)
    at = (n - 1) * (q / 100)
    if at >= n - 1:
        return float(ordered[-1])
    i = floor(at)
    gamma = at - i
    a, b = ordered[i], ordered[i + 1]
    diff = b - a
    # numpy's _lerp: from the far end when gamma >= 0.5, which keeps the result monotonic.
    return float(b - diff * (1 - gamma)) if gamma >= 0.5 else float(a + diff * gamma)


def _chart(
    rows: Sequence[Any],
    start: datetime,
    end: datetime,
    inc: Incident,
    st: dict[str, Any],
    tz: str,
) -> dict[str, Any]:
    """Mentions and negatives per 30 minutes from a day before the opening to `end`, and the
    usual band: the 10th to 90th percentile of the same half-hour over the 7 days before (only
    days before the incident count)."""
    n = max(1, int((end - start) / BIN) + 1) if end > start else 0
    step = int(BIN.total_seconds())
    base_epoch = int(start.timestamp())
    counts: Counter[int] = Counter()
    negs: Counter[int] = Counter()
    for r in rows:
        k = (int(r.created_at.timestamp()) - base_epoch) // step
        counts[k] += 1
        negs[k] += r.label == "neg"
    per_day = int(timedelta(days=1) / BIN)
    cutoff = (int((inc.opened_at - timedelta(hours=1)).timestamp()) - base_epoch) // step
    low, high = [], []
    for i in range(n):
        usual = [counts[i - d * per_day] for d in range(1, 8) if i - d * per_day < cutoff]
        if len(usual) >= 3:
            usual.sort()
            low.append(percentile(usual, 10))
            high.append(percentile(usual, 90))
        else:
            low.append(0.0)
            high.append(0.0)
    marks = [{"label": "opened", "at": inc.opened_at.isoformat()}]
    if st["acknowledged_at"]:
        marks.append({"label": "acknowledged", "at": st["acknowledged_at"].isoformat()})
    if st["resolved_at"] and st["resolved_at"] <= end:
        marks.append({"label": "resolved", "at": st["resolved_at"].isoformat()})
    return {
        "bin_minutes": int(BIN.total_seconds() // 60),
        "times": [(start + i * BIN).isoformat() for i in range(n)],
        "mentions": [counts[i] for i in range(n)],
        "negative": [negs[i] for i in range(n)],
        "band_low": low if any(high) else [],
        "band_high": high if any(high) else [],
        "marks": marks,
    }


def _known(
    session: Session,
    p: dict[str, Any],
    inc: Incident,
    window: list[Any],
    config: Config | None,
    now: datetime,
    tz: str,
) -> tuple[list[str], list[str]]:
    known: list[str] = [f"Note by {n['by']} ({n['at']}): {n['text']}" for n in p["notes"]]
    unknown: list[str] = []
    size = p["size"]
    known.append(
        f"{size['mentions']} mentions from {size['authors']} authors since an hour before the "
        f"opening; {size['negative_pct']}% negative."
    )
    if p["top_posts"]:
        t = p["top_posts"][0]
        known.append(
            f"The most-reached post is on {t['platform']} by {t['author'] or 'an unknown author'} "
            f"({t['reach_label']} followers{', ' + str(t['copies']) + ' copies' if t['copies'] > 1 else ''})."
        )
    if p["themes"]:
        known.append("People talk about " + ", ".join(t["term"] for t in p["themes"][:3]) + ".")
    news = [r for r in window if r.platform in NEWS and r.label == "neg"]
    watched_news = any(r.platform in NEWS for r in window) or (
        config is not None and any(q in NEWS for q in config.topic(inc.topic).queries)
    )
    if news:
        known.append(f"Picked up by news: {len(news)} negative news item(s).")
    elif watched_news:
        unknown.append("Not yet picked up by news (as far as the feeds we watch show).")
    else:
        unknown.append("Whether news picked it up: we watch no news feed for this topic.")
    statements = [e for e in p["timeline"] if "statement" in e["text"].lower()]
    if not statements:
        unknown.append("No statement from us is recorded yet.")
    if p["acknowledged_by"] is None and p["state"] != "resolved":
        unknown.append("Who is handling it: nobody has acknowledged yet.")
    # Sources we cannot see: a platform configured for the topic whose last poll failed.
    last_polls: dict[str, PollRow] = {}
    for poll in session.scalars(
        select(PollRow)
        .where(PollRow.topic == inc.topic, PollRow.at <= now, PollRow.at >= now - timedelta(days=1))
        .order_by(PollRow.at)
    ):
        last_polls[poll.platform] = poll
    for platform, poll in sorted(last_polls.items()):
        if poll.health == "auth_failed":
            unknown.append(
                f"We cannot see {platform} posts: {platform} refused our credentials "
                f"(last try {show(poll.at, tz, '%a %H:%M')})."
            )
        elif poll.health != "ok":
            unknown.append(f"{platform} is not answering right now ({poll.health}).")
    if config is not None:
        queried = set(config.topic(inc.topic).queries)
        seen = {r.platform for r in window}
        try:
            from worker.sources import CONNECTORS

            blind = sorted(set(CONNECTORS) - queried - seen - NEWS)
            if len(blind) == 1:
                unknown.append(
                    f"We cannot see {blind[0]} posts: no {blind[0]} query or credentials are configured."
                )
            elif blind:  # one line, not one per platform: the packet is read on a phone
                names = ", ".join(blind[:-1]) + f" or {blind[-1]}"
                unknown.append(
                    f"We cannot see {names} posts: no query or credentials are configured for them."
                )
        except ImportError:  # pragma: no cover
            pass
    return known, unknown


def _answers(
    p: dict[str, Any], times: dict[str, datetime | None], tz: str, lang: str
) -> dict[str, str]:
    """The five questions of the first screen, each one short sentence (about 80 words in all),
    in the team's language (English or French). `since` is the time alone: the label, or
    `packet_summary`, says "Since"."""
    size = p["size"]
    fr = lang == "fr"

    def at(key: str, time_only: bool = False) -> str:
        value = times[key]
        return said(value, tz, lang, time_only=time_only) if value else ""

    last, before = size["last_hour"], size["hour_before"]
    if fr:
        trend = {
            "growing": f"en hausse ({last} dans la dernière heure, {before} l'heure d'avant)",
            "fading": f"en baisse ({last} dans la dernière heure, {before} l'heure d'avant)",
            "steady": f"stable ({last} dans la dernière heure)",
            "over": f"terminé (résolu {at('resolved')})",
        }[size["trend"]]
    else:
        trend = {
            "growing": f"growing ({last} in the last hour, {before} the hour before)",
            "fading": f"fading ({last} in the last hour, {before} the hour before)",
            "steady": f"steady ({last} in the last hour)",
            "over": f"over (resolved {at('resolved')})",
        }[size["trend"]]
    themes = ", ".join(t["term"] for t in p["themes"][:2])
    label = (CATEGORY_LABEL_FR if fr else CATEGORY_LABEL)[p["category"]]
    what = label[0].upper() + label[1:]
    total = sum(w["count"] for w in p["where"]) or 1
    where = ", ".join(f"{w['platform']} {round(100 * w['count'] / total)}%" for w in p["where"][:3])
    if p["acknowledged_by"]:
        who = (
            f"{p['acknowledged_by']} s'en occupe (depuis {at('acknowledged', True)})."
            if fr
            else f"{p['acknowledged_by']} is on it (since {at('acknowledged', True)})."
        )
    elif p["state"] == "resolved":
        who = (
            "Clos ; personne n'en a accusé réception." if fr else "Closed; nobody acknowledged it."
        )
    else:
        who = (
            "Personne n'en a encore accusé réception ; l'escalade continue."
            if fr
            else "Nobody has acknowledged it yet; the escalation goes on."
        )
    if times["next_update"]:
        nxt = at("next_update", True)
        who += f" Prochain point d'ici {nxt}." if fr else f" Next update by {nxt}."
    since = at("opened")
    if times["first_signal"] and times["first_signal"] < times["opened"]:  # type: ignore[operator]
        since += (
            f" (premier signal {at('first_signal')})"
            if fr
            else f" (first signal {at('first_signal')})"
        )
    if fr:
        about = f" — au sujet de {themes}" if themes else ""
        size_text = (
            f"{size['mentions']} mentions, {size['negative_pct']} % négatives, "
            f"{size['reach_label']} abonnés cumulés ; {trend}."
        )
        where_text = f"Surtout {where}." if p["where"] else "Aucune mention pour l'instant."
    else:
        about = f" — about {themes}" if themes else ""
        size_text = (
            f"{size['mentions']} mentions, {size['negative_pct']}% negative, "
            f"{size['reach_label']} combined followers; {trend}."
        )
        where_text = f"Mostly {where}." if p["where"] else "No mentions yet."
    return {
        "what": what + about + ".",
        "since": since + ".",
        "size": size_text,
        "where": where_text,
        "who": who,
    }


def packet_summary(p: dict[str, Any]) -> str:
    """The five answers as one paragraph: the e-mail's first lines and the PDF's first text."""
    a = p["answers"]
    since = ("Depuis " if p.get("answer_lang") == "fr" else "Since ") + a["since"]
    if p.get("format", 0) < 3:  # kept versions before format 3 say "Since …" themselves
        since = a["since"]
    return " ".join([a["what"], since, a["size"], a["where"], a["who"]])
