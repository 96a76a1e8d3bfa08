"""One topic: a chart over 24 h / 7 d / 30 d (mentions, negative mentions, the usual band,
incidents marked), the top posts and themes of a chosen span (the packet's own code:
`alerts.packets.content`), and the mention list with search, filters and cursor paging
(`alerts.mention_list.list_mentions`)."""

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.dashboard.common import Deps, Principal, Role, not_found, render, when
from alerts.dashboard.series import SPANS, series
from alerts.dashboard.svg import draw
from alerts.mention_list import MentionFilter, list_mentions
from alerts.packets.content import POST_COLUMNS, _safe_url, _themes, _top_posts, reach_label
from worker.config import Config
from worker.localtime import local, zone
from worker.storage.models import Incident, MentionRow

#: A chosen span reads at most this many mentions for its top posts and themes (the newest).
SPAN_ROWS = 20_000
CHART_W, CHART_H = 720, 220
NARROW_W, NARROW_H = 360, 220
FILTERS = ("q", "platform", "lang", "label", "author")
LABELS = ("neg", "neu", "pos")


def parse_local(value: str, tz: str) -> datetime | None:
    """A `datetime-local` form value (team's zone) or an ISO time with offset; None if empty."""
    if not value:
        return None
    at = datetime.fromisoformat(value)
    return at if at.tzinfo else at.replace(tzinfo=zone(tz))


def span_view(
    session: Session, topic: str, start: datetime, end: datetime, tz: str
) -> dict[str, Any]:
    """Top posts and themes of the topic's mentions in [start, end), as the packet shows them."""
    window = session.execute(
        select(*POST_COLUMNS)
        .where(
            MentionRow.topic == topic,
            MentionRow.created_at >= start,
            MentionRow.created_at < end,
        )
        .order_by(MentionRow.created_at.desc())
        .limit(SPAN_ROWS)
    ).all()
    before = session.scalars(
        select(MentionRow.text)
        .where(
            MentionRow.topic == topic,
            MentionRow.created_at >= start - (end - start),
            MentionRow.created_at < start,
        )
        .limit(5000)
    ).all()
    return {
        "mentions": len(window),
        "capped": len(window) == SPAN_ROWS,
        "top_posts": _top_posts(list(window), tz),
        "themes": _themes([r.text for r in window], list(before)),
    }


def _mention_items(items: list[dict[str, Any]], tz: str) -> list[dict[str, Any]]:
    out = []
    for m in items:
        out.append(
            {
                **m,
                "at": when(datetime.fromisoformat(m["created_at"]), tz, "%a %d %b %H:%M"),
                "safe_url": _safe_url(m.get("url")),
                "reach": reach_label(int(m["reach"])) if m.get("reach") else None,
            }
        )
    return out


def _known_values(session: Session, topic: str, column: Any) -> list[str]:
    return sorted(
        v
        for v in session.scalars(
            select(column).where(MentionRow.topic == topic).distinct().limit(50)
        )
        if v
    )


def router(deps: Deps) -> APIRouter:
    r = APIRouter()
    viewer = deps.auth.page(Role.viewer)

    @r.get("/topics/{name}", response_class=HTMLResponse)
    def topic_page(
        request: Request,
        who: Annotated[Principal, Depends(viewer)],
        name: str,
        span: str = "24h",
        start: str = "",
        end: str = "",
        q: str = "",
        platform: str = "",
        lang: str = "",
        label: str = "",
        author: str = "",
        cursor: str = "",
    ) -> HTMLResponse:
        rt, now = deps.rt_of(), deps.now_of()
        config: Config = rt.config
        tz = config.timezone
        span = span if span in SPANS else "24h"
        length, step = SPANS[span]
        problems: list[str] = []
        try:
            a = parse_local(start, tz) or now - length
            b = parse_local(end, tz) or now
            if b <= a:
                raise ValueError("the span's end must be after its start")
        except ValueError as exc:
            problems.append(f"Span: {exc}")
            a, b = now - length, now
        f = MentionFilter(
            topic=name,
            q=q.strip()[:200] or None,
            platform=platform or None,
            lang=lang or None,
            label=label if label in LABELS else None,
            author=author.strip()[:300] or None,
        )
        with rt.sessions() as session:
            known = name in config.topics or session.scalar(
                select(MentionRow.id).where(MentionRow.topic == name).limit(1)
            )
            if not known:
                return not_found(request, deps, who, "No such topic.")
            s = series(session, name, now, length, step, align=True)
            incidents = session.scalars(
                select(Incident)
                .where(Incident.topic == name, Incident.opened_at >= s.start)
                .order_by(Incident.opened_at)
            ).all()
            marks = [
                (i.opened_at, f"#{i.id} SEV{i.severity}", f"/incidents/{i.id}") for i in incidents
            ]
            x_format = "%a %H:%M" if span != "30d" else "%d %b"
            # Two drawings of the same numbers: SVG text scales with the picture, so one drawn
            # for a phone and one for a wide screen keep the labels legible (CSS shows one).
            chart = draw(
                s,
                width=CHART_W,
                height=CHART_H,
                pad_left=40,
                pad_bottom=18,
                tz=tz,
                x_format=x_format,
                marks=marks,
            )
            narrow = draw(
                s,
                width=NARROW_W,
                height=NARROW_H,
                pad_left=28,
                pad_bottom=18,
                tz=tz,
                x_format=x_format,
                marks=marks,
                ticks=3,
            )
            view = span_view(session, name, a, b, tz)
            try:
                page = list_mentions(session, f, cursor or None, limit=50)
            except ValueError as exc:  # a bad cursor or search: say so, show the newest
                problems.append(f"Mentions: {exc}")
                cursor = ""
                page = list_mentions(session, replace(f, q=None), None, limit=50)
            platforms = _known_values(session, name, MentionRow.platform)
            langs = _known_values(session, name, MentionRow.lang)
        topic = config.topics.get(name)
        filters = {"q": q, "platform": platform, "lang": lang, "label": label, "author": author}
        return render(
            request,
            deps,
            who,
            "dash_topic.html",
            title=topic.display_name if topic else name,
            topic=name,
            display_name=topic.display_name if topic else name,
            span=span,
            spans=list(SPANS),
            chart=chart,
            narrow=narrow,
            totals={"mentions": sum(s.mentions), "negative": sum(s.negative)},
            view=view,
            span_from=local(a, tz).strftime("%Y-%m-%dT%H:%M"),
            span_to=local(b, tz).strftime("%Y-%m-%dT%H:%M"),
            span_label=f"{when(a, tz)} – {when(b, tz)}",
            mentions=_mention_items(page.items, tz),
            next_href=(
                f"/topics/{quote(name, safe='')}?"
                + urlencode({**filters, "span": span, "cursor": page.next_cursor})
                if page.next_cursor
                else ""
            ),
            request_cursor=bool(cursor),
            first_href=f"/topics/{quote(name, safe='')}?" + urlencode({**filters, "span": span}),
            filters=filters,
            platforms=platforms,
            langs=langs,
            labels=LABELS,
            problems=problems,
            incidents=[
                {"id": i.id, "severity": i.severity, "state": i.state, "title": i.title}
                for i in incidents
            ],
        )

    return r


__all__ = ["router", "span_view", "timedelta"]
