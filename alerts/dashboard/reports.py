"""Reports: the weekly and monthly archive. Each period is built from the database when opened
(`alerts.reports`), the same page leadership gets by e-mail; the list says which were sent."""

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from alerts.dashboard.common import Deps, Principal, Role, not_found, render, when
from alerts.reports.build import (
    build_monthly,
    build_weekly,
    last_complete_month,
    last_complete_week,
    report_stem,
    week_label,
)
from alerts.reports.render import render_report_html
from worker.localtime import local
from worker.storage.models import Notification

WEEKS, MONTHS = 12, 6


def archive(now: datetime, tz: str) -> tuple[list[str], list[str]]:
    """The current and past weeks and months, newest first."""
    this_monday = last_complete_week(now, tz) + timedelta(days=7)
    weeks = [week_label(this_monday - timedelta(days=7 * k)) for k in range(WEEKS + 1)]
    months = []
    today = local(now, tz).date()
    y, m = today.year, today.month
    for _ in range(MONTHS + 1):
        months.append(f"{y}-{m:02d}")
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    assert last_complete_month(now, tz) in months
    return weeks, months


def router(deps: Deps) -> APIRouter:
    r = APIRouter()
    viewer = deps.auth.page(Role.viewer)

    @r.get("/reports", response_class=HTMLResponse)
    def reports(request: Request, who: Annotated[Principal, Depends(viewer)]) -> HTMLResponse:
        rt, now = deps.rt_of(), deps.now_of()
        tz = rt.config.timezone
        weeks, months = archive(now, tz)
        sent: dict[str, datetime] = {}
        with rt.sessions() as session:
            for body, at in session.execute(
                select(Notification.body, Notification.sent_at).where(
                    Notification.incident_id.is_(None), Notification.role != "test"
                )
            ):
                stem = (body or {}).get("report")
                if stem and at and (stem not in sent or at < sent[stem]):
                    sent[stem] = at
        rows: list[dict[str, Any]] = [
            {"kind": "weekly", "label": w, "href": f"/reports/weekly/{w}", "running": k == 0}
            for k, w in enumerate(weeks)
        ] + [
            {"kind": "monthly", "label": m, "href": f"/reports/monthly/{m}", "running": k == 0}
            for k, m in enumerate(months)
        ]
        for row in rows:
            at = sent.get(f"{row['kind']}-{row['label']}")
            row["sent"] = when(at, tz) if at else ""
        return render(request, deps, who, "dash_reports.html", title="Reports", rows=rows)

    def one(request: Request, who: Principal, build: Any, label: str) -> HTMLResponse:
        rt, now = deps.rt_of(), deps.now_of()
        try:
            with rt.sessions() as session:
                report = build(session, rt.config, label, now)
        except ValueError as exc:
            return not_found(request, deps, who, str(exc))
        assert report_stem(report)
        # The report page is the e-mail's own page: inline styles and data: charts, no script,
        # under the web app's default policy (not the dashboard's).
        return HTMLResponse(render_report_html(report))

    @r.get("/reports/weekly/{week}", response_class=HTMLResponse)
    def weekly(
        request: Request, who: Annotated[Principal, Depends(viewer)], week: str
    ) -> HTMLResponse:
        return one(request, who, build_weekly, week)

    @r.get("/reports/monthly/{month}", response_class=HTMLResponse)
    def monthly(
        request: Request, who: Annotated[Principal, Depends(viewer)], month: str
    ) -> HTMLResponse:
        return one(request, who, build_monthly, month)

    return r


__all__ = ["archive", "router"]
