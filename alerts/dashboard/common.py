"""What every dashboard page shares: the template environment, the page's CSP, the navigation,
the signed-in person and how times and ages are written.

Mention text is hostile: templates are autoescaped (`alerts.channels.render.env`), the pages carry
no inline script (`script-src 'self'` below), and the live script writes data with
`textContent` only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from alerts.auth import Auth, Principal, Role
from alerts.channels.render import env
from worker.localtime import show
from worker.runtime import Runtime

#: Dashboard pages run our own script and styles only; `connect-src 'self'` lets the live script
#: fetch its JSON. Inline SVG charts are markup, not images, so they need nothing more.
CSP = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; "
    "img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)

NAV = [
    ("/", "Overview"),
    ("/incidents", "Incidents"),
    ("/oncall", "On call"),
    ("/sources", "Sources"),
    ("/reports", "Reports"),
    ("/settings", "Settings"),
]


@dataclass(frozen=True)
class Deps:
    """What each page module needs: the runtime, the clock and the auth object."""

    rt_of: Callable[[], Runtime]
    now_of: Callable[[], datetime]
    auth: Auth


def age(delta: timedelta) -> str:
    """A duration as people say it: '45 min', '3 h 05 min', '2 d 4 h'."""
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def when(at: datetime | None, tz: str, fmt: str = "%a %d %b %H:%M") -> str:
    return show(at, tz, fmt) if at is not None else "—"


def render(
    request: Request,
    deps: Deps,
    who: Principal,
    template: str,
    *,
    status: int = 200,
    **ctx: Any,
) -> HTMLResponse:
    """One dashboard page, with its navigation, the signed-in person and the CSRF token."""
    rt = deps.rt_of()
    html = (
        env()
        .get_template(template)
        .render(
            nav=NAV,
            path=request.url.path,
            who=who,
            can_act=who.role >= Role.responder,
            is_admin=who.role >= Role.admin,
            csrf=deps.auth.csrf_token(request),
            tz=rt.config.timezone,
            now=show(deps.now_of(), rt.config.timezone),
            **ctx,
        )
    )
    return HTMLResponse(html, status_code=status, headers={"Content-Security-Policy": CSP})


def not_found(
    request: Request, deps: Deps, who: Principal, message: str | None = None
) -> HTMLResponse:
    """The dashboard's 404 page (`message`, or "There is nothing here.")."""
    return render(
        request, deps, who, "dash_missing.html", status=404, title="Not found", message=message
    )


__all__ = ["CSP", "Deps", "Principal", "Role", "age", "render", "when"]
