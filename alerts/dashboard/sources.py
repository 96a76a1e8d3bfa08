"""Sources: each (topic, platform, query) tocsin polls, with its health, last success, next poll,
consecutive failures and remaining rate-limit budget — what `tocsin sources` prints."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from alerts.dashboard.common import Deps, Principal, Role, age, render, when
from worker.config import Config
from worker.sources.status import sources_with_budgets


def source_view(session: Session, config: Config, now: Any) -> list[dict[str, Any]]:
    """One row per enabled source (the same reading as `tocsin sources`)."""
    tz = config.timezone
    rows = []
    for s, b in sources_with_budgets(session, config):
        rows.append(
            {
                "topic": s.topic,
                "platform": s.platform,
                "query": s.query,
                "health": s.health or "not polled",
                "healthy": s.healthy,
                "last_success": when(s.last_success_at, tz),
                "since_success": age(now - s.last_success_at) if s.last_success_at else "never",
                "next_poll": when(s.next_poll_at, tz) if s.next_poll_at else "soon",
                "failures": s.consecutive_failures,
                "mentions": s.mentions_total,
                "budget": (
                    f"{b.remaining} of {b.limit}"
                    if b and b.limit
                    else str(b.remaining)
                    if b
                    else "—"
                )
                if b and b.remaining is not None
                else "—",
                "budget_reset": when(b.blocked_until or b.reset_at, tz)
                if b and (b.blocked_until or b.reset_at)
                else "",
                "detail": s.last_error or "",
            }
        )
    rows.sort(key=lambda r: (r["healthy"], r["topic"], r["platform"]))
    return rows


def router(deps: Deps) -> APIRouter:
    r = APIRouter()

    @r.get("/sources", response_class=HTMLResponse)
    def sources(
        request: Request, who: Annotated[Principal, Depends(deps.auth.page(Role.viewer))]
    ) -> HTMLResponse:
        rt, now = deps.rt_of(), deps.now_of()
        with rt.sessions() as session:
            rows = source_view(session, rt.config, now)
        return render(request, deps, who, "dash_sources.html", title="Sources", rows=rows)

    return r


__all__ = ["router", "source_view"]
