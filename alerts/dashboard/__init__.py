"""The web dashboard: the pages a social media team keeps open all day and an executive opens
from a link. Server-rendered (Jinja, autoescaped), inline SVG charts, one small self-hosted
script for live updates; no CDN, font or script from elsewhere. See docs/dashboard.md.

One module per page: `overview`, `topic`, `incidents` (list, detail, action forms), `people`
(on call), `sources`, `reports`, `settings`; `series` and `svg` draw the charts; `common` holds
the page frame, the CSP and the helpers. `dashboard_router(rt_of, now_of, auth)` gathers them,
with `/static/…` served from the package.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from importlib import resources

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

from alerts.auth import Auth
from alerts.dashboard import incidents, overview, people, reports, settings, sources, topic
from alerts.dashboard.common import Deps
from worker.runtime import Runtime

#: The files under alerts/static/ and their types; anything else is 404 (no path walking).
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


def static_router() -> APIRouter:
    r = APIRouter()

    @r.get("/static/{name}")
    def static(name: str) -> Response:
        suffix = name[name.rfind(".") :] if "." in name else ""
        if "/" in name or "\\" in name or name.startswith(".") or suffix not in STATIC_TYPES:
            raise HTTPException(404, "no such file")
        path = resources.files("alerts") / "static" / name
        if not path.is_file():
            raise HTTPException(404, "no such file")
        return Response(
            path.read_bytes(),
            media_type=STATIC_TYPES[suffix],
            headers={"Cache-Control": "public, max-age=300"},
        )

    return r


def dashboard_router(
    rt_of: Callable[[], Runtime], now_of: Callable[[], datetime], auth: Auth
) -> APIRouter:
    deps = Deps(rt_of, now_of, auth)
    router = APIRouter()
    router.include_router(static_router())
    for page in (overview, topic, incidents, people, sources, reports, settings):
        router.include_router(page.router(deps))
    return router


__all__ = ["dashboard_router"]
