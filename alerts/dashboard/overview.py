"""The overview: one card per topic, what needs attention on top.

The topics are the configured ones, plus any with an open incident or mentions in the last day.
Each card: mentions in the last hour against the usual band (see `alerts.dashboard.series`) and a
24-hour sparkline of hourly counts, the negative share of the last 24 hours, the open incident
(severity, state, age) and the topic's sources (how many answer). Order: open incidents nobody
acknowledged (worst severity first), then other open incidents, then topics above their usual
band or with a source down, then the rest by name.
"""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.dashboard.common import Deps, Principal, Role, age, render, when
from alerts.dashboard.series import Series, series, series_of_topics, series_of_topics_empty
from alerts.dashboard.svg import draw
from alerts.incidents import RESOLVED, TRIGGERED
from alerts.schedules import on_call_now
from worker.config import Config
from worker.storage.models import Incident, Source

HOUR = timedelta(hours=1)
SPARK_W, SPARK_H = 160, 36


def _level(count: int, low: list[float], high: list[float]) -> str:
    if not high:
        return "no usual band yet"
    if count > high[-1]:
        return "above usual"
    if count < low[-1]:
        return "below usual"
    return "usual"


def day_series(session: Session, topic: str, now: datetime) -> Series:
    """A card's numbers: mentions per hour over the 24 hours before `now`, with the usual band."""
    return series(session, topic, now, 24 * HOUR, HOUR, align=False)


def day_series_of(session: Session, now: datetime) -> tuple[dict[str, Series], set[str]]:
    """Every topic's `day_series` in one grouped query over the buckets (not one per topic), and
    the topics with buckets in the last 24 hours."""
    return series_of_topics(session, None, now, 24 * HOUR, HOUR, align=False)


def day_series_of_nothing(now: datetime) -> Series:
    """The card of a topic with no bucket in the last 8 days."""
    return series_of_topics_empty(now, 24 * HOUR, HOUR, align=False)


class SeriesCache:
    """The cards' series, kept for the current minute of `now`: the live script of every open
    tab asks every 5 s, and a week of buckets for every topic costs hundreds of milliseconds to
    read (bench/dashboard_bench.py); buckets are 5 minutes wide, so a minute's lag hides
    nothing. Incidents and sources are read afresh on every request."""

    def __init__(self) -> None:
        self._minute: int | None = None
        self._kept: tuple[dict[str, Series], set[str]] = ({}, set())

    def __call__(self, session: Session, now: datetime) -> tuple[dict[str, Series], set[str]]:
        minute = int(now.timestamp()) // 60
        if minute != self._minute:
            self._kept, self._minute = day_series_of(session, now), minute
        return self._kept


def topic_cards(
    session: Session,
    config: Config,
    now: datetime,
    series_of: Callable[[Session, datetime], tuple[dict[str, Series], set[str]]] = day_series_of,
) -> list[dict[str, Any]]:
    """The overview's cards as plain data (also the live JSON)."""
    open_incidents = {
        i.topic: i
        for i in session.scalars(
            select(Incident).where(Incident.state != RESOLVED).order_by(Incident.opened_at)
        )
    }
    sources: dict[str, list[Source]] = {}
    for src in session.scalars(select(Source).where(Source.enabled.is_(True))):
        sources.setdefault(src.topic, []).append(src)
    # The configured topics, and any other with an open incident or mentions in the last day
    # (imported or replayed data): nothing stored goes unseen.
    all_series, recent = series_of(session, now)
    names = sorted(set(config.topics) | set(open_incidents) | recent)
    tz = config.timezone
    cards = []
    for name in names:
        s = all_series.get(name) or day_series_of_nothing(now)
        total, neg = sum(s.mentions), sum(s.negative)
        last = s.mentions[-1] if s.mentions else 0
        inc = open_incidents.get(name)
        srcs = sources.get(name, [])
        down = [x for x in srcs if not x.healthy]
        spark = draw(s, width=SPARK_W, height=SPARK_H)
        topic = config.topics.get(name)
        level = _level(last, s.low, s.high)
        card: dict[str, Any] = {
            "topic": name,
            "display_name": topic.display_name if topic else name,
            "last_hour": last,
            "usual": f"{s.low[-1]:g}–{s.high[-1]:g}" if s.high else "",
            "level": level,
            "negative_pct": round(100 * neg / s.texts) if s.texts else None,
            "mentions_24h": total,
            "spark": {"mentions": spark.mentions, "band": spark.band},
            "incident": None,
            "sources_total": len(srcs),
            "sources_down": [f"{x.platform} ({x.health or 'not ok'})" for x in down],
        }
        if inc is not None:
            card["incident"] = {
                "id": inc.id,
                "severity": inc.severity,
                "state": inc.state,
                "title": inc.title,
                "age": age(now - inc.opened_at),
                "opened": when(inc.opened_at, tz),
                "acknowledged_by": inc.acknowledged_by,
            }
        rank = (
            0
            if inc is not None and inc.state == TRIGGERED
            else 1
            if inc is not None
            else 2
            if level == "above usual" or down
            else 3
        )
        card["attention"] = rank < 3
        card["_key"] = (rank, inc.severity if inc else 9, name)
        cards.append(card)
    cards.sort(key=lambda c: c.pop("_key"))
    return cards


def router(deps: Deps) -> APIRouter:
    r = APIRouter()
    viewer = deps.auth.page(Role.viewer)
    kept = SeriesCache()

    @r.get("/", response_class=HTMLResponse)
    def overview(request: Request, who: Annotated[Principal, Depends(viewer)]) -> HTMLResponse:
        rt, now = deps.rt_of(), deps.now_of()
        with rt.sessions() as session:
            cards = topic_cards(session, rt.config, now, kept)
        oncall = on_call_now(rt.config, now)
        people = rt.config.people
        return render(
            request,
            deps,
            who,
            "dash_overview.html",
            title="Overview",
            cards=cards,
            open_count=sum(1 for c in cards if c["incident"]),
            oncall=[(k, people[v].name if v in people else v) for k, v in oncall.items()],
            spark_w=SPARK_W,
            spark_h=SPARK_H,
        )

    @r.get("/live/overview")
    def overview_live(
        who: Annotated[Principal, Depends(deps.auth.api(Role.viewer))],
    ) -> JSONResponse:
        rt, now = deps.rt_of(), deps.now_of()
        with rt.sessions() as session:
            cards = topic_cards(session, rt.config, now, kept)
        return JSONResponse({"cards": cards, "now": when(now, rt.config.timezone)})

    return r


__all__ = ["SeriesCache", "day_series", "day_series_of", "router", "topic_cards"]
