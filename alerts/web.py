"""The web app (FastAPI): signed acknowledgement links, the briefing packet, a JSON API, a dashboard.

- `GET /ack/{token}` shows the incident and one big button; it never changes anything, because
  mail security scanners open links in e-mails. `POST /ack/{token}` acknowledges (single use).
- `GET /incidents/{id}/packet?t=…` shows the packet to whoever holds the signed view link.
- The old `/api/…` endpoints and `/metrics` need `Authorization: Bearer $TOCSIN_API_TOKEN`;
  without a token configured, only loopback clients may call them.
- Dashboard pages (`/`) and `/api/v1` need an account (`alerts.auth`): `/login`, `/logout` and
  `/set-password/{token}` come from `Auth.router`.
- Every request first passes `alerts.websecurity` (Host allow-list, same-origin JSON for state
  changes, the token rule), as a middleware, so routers added later are covered too.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select, text

from alerts import timeline, websecurity
from alerts.api_incidents import incidents_router
from alerts.api_v1 import api_v1_router
from alerts.auth import Auth, AuthRefusal, refusal_handler
from alerts.channels.render import env
from alerts.dashboard import dashboard_router
from alerts.deadman import check_pipeline
from alerts.integrations import router as integrations_router
from alerts.packets import build_packet, get_version, list_versions, render_packet_html
from alerts.push import push_router
from alerts.service import AckResult, acknowledge, get_incident, list_incidents
from alerts.tokens import TokenError, read_ack_token, read_view_token
from worker import metrics
from worker.localtime import show
from worker.runtime import Runtime, get_runtime, utcnow
from worker.storage.models import Source

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _shown(iso: str, tz: str) -> str:
    """An ISO time from the incidents API, as a person reads it in the team's zone."""
    return show(datetime.fromisoformat(iso), tz)


def _page(status: int = 200, **ctx: Any) -> HTMLResponse:
    ctx.setdefault("lines", [])
    return HTMLResponse(env().get_template("page.html").render(**ctx), status_code=status)


def _broker_health(url: str) -> dict[str, Any]:
    """Can we reach the broker? (A short connect; the embedded SQLite broker always can.)"""
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return {"ok": True}
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}


def create_app(
    runtime_provider: Callable[[], Runtime] | None = None,
    *,
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    rt_of = runtime_provider or get_runtime
    now_of = clock or utcnow
    app = FastAPI(title="tocsin", docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    app.middleware("http")(websecurity.middleware(lambda: rt_of().settings.base_url))

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Any:
        # Every timeline row written while serving this request records where it came from.
        token = timeline.ORIGIN.set(request.client.host if request.client else None)
        try:
            response = await call_next(request)
        finally:
            timeline.ORIGIN.reset(token)
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        return response

    auth = Auth(rt_of, now_of)
    app.state.auth = auth  # for routers and tests that need the same dependencies
    app.include_router(auth.router)
    app.add_exception_handler(AuthRefusal, refusal_handler)

    def authorize(request: Request) -> None:
        """The token rule again, in the route (the middleware already applied it)."""
        refusal = websecurity.check(
            request, rt_of().settings.base_url, os.environ.get("TOCSIN_API_TOKEN") or None
        )
        if refusal is not None:
            raise HTTPException(refusal.status_code, "request refused")

    def claim(token: str) -> Any:
        rt = rt_of()
        try:
            return read_ack_token(rt.settings.secret_key, token, now_of())
        except TokenError as exc:
            if exc.reason == "expired":
                return _page(
                    410,
                    heading="This link has expired",
                    lines=["Acknowledge from the dashboard, the API or `tocsin ack`."],
                )
            return _page(
                400,
                heading="This link is not valid",
                lines=["It may have been cut by your mail program. Open it from the e-mail again."],
            )

    @app.get("/ack/{token}", response_class=HTMLResponse)
    def ack_form(token: str) -> HTMLResponse:
        c = claim(token)
        if isinstance(c, HTMLResponse):
            return c
        rt = rt_of()
        with rt.sessions() as session:
            inc = get_incident(session, c.incident_id)
        if inc is None:
            return _page(404, heading="Incident not found")
        # A snoozed incident can still be acknowledged (which ends the snooze for good), as
        # `alerts.actions.acknowledge` allows: only an acknowledged or resolved one cannot.
        if inc["state"] not in ("triggered", "snoozed"):
            who = inc["acknowledged_by"] or "someone"
            lines = [
                f"Already {inc['state']}"
                + (
                    f" by {who} at {_shown(inc['acknowledged_at'], rt.config.timezone)}."
                    if inc["acknowledged_at"]
                    else "."
                )
            ]
            return _page(200, heading=inc["title"], severity=inc["severity"], lines=lines)
        return _page(
            200,
            heading=inc["title"],
            severity=inc["severity"],
            lines=[
                *inc["explanations"][:3],
                f"Opened {_shown(inc['opened_at'], rt.config.timezone)}.",
                *(
                    [
                        f"Snoozed until {_shown(inc['snoozed_until'], rt.config.timezone)};"
                        " acknowledging stops the escalation for good."
                    ]
                    if inc["state"] == "snoozed" and inc["snoozed_until"]
                    else []
                ),
            ],
            form_action=f"/ack/{token}",
            button="Acknowledge",
        )

    @app.post("/ack/{token}", response_class=HTMLResponse)
    def ack_do(token: str) -> HTMLResponse:
        c = claim(token)
        if isinstance(c, HTMLResponse):
            return c
        rt, now = rt_of(), now_of()
        with rt.sessions.begin() as session:
            result = acknowledge(
                session, c.incident_id, by=c.recipient, via="link", now=now, token_id=c.token_id
            )
        with rt.sessions() as session:
            inc = get_incident(session, c.incident_id) or {}
        if result == AckResult.ACKNOWLEDGED:
            return _page(
                200,
                heading="Acknowledged",
                severity=inc.get("severity"),
                lines=[
                    f"Acknowledged by {c.recipient} at {show(now, rt.config.timezone, '%H:%M')}"
                    " — escalation stopped.",
                    inc.get("title", ""),
                ],
            )
        if result == AckResult.TOKEN_USED:
            return _page(
                409,
                heading="This link was already used",
                lines=[
                    f"Incident acknowledged by {inc.get('acknowledged_by')} at {inc.get('acknowledged_at')}."
                ],
            )
        if result == AckResult.NOT_FOUND:
            return _page(404, heading="Incident not found")
        return _page(
            200,
            heading=f"Already {inc.get('state', 'handled')}",
            lines=[
                f"By {inc.get('acknowledged_by') or 'tocsin'} at {inc.get('acknowledged_at') or inc.get('resolved_at')}."
            ],
        )

    @app.get("/incidents/{incident_id}/packet", response_class=HTMLResponse)
    def packet(incident_id: int, t: str = "") -> HTMLResponse:
        rt, now = rt_of(), now_of()
        try:
            allowed = read_view_token(rt.settings.secret_key, t, now)
        except TokenError as exc:
            return _page(410 if exc.reason == "expired" else 403, heading=f"Link {exc.reason}")
        if allowed != incident_id:
            return _page(403, heading="Link not valid for this incident")
        with rt.sessions() as session:
            try:
                packet = build_packet(session, incident_id, now, rt.config.timezone, rt.config)
                versions = [
                    (f"/incidents/{incident_id}/packet/v/{v['version']}?t={t}", v)
                    for v in list_versions(session, incident_id)
                ]
                return HTMLResponse(render_packet_html(packet, versions=versions))
            except LookupError:
                return _page(404, heading="Incident not found")

    @app.get("/incidents/{incident_id}/packet/v/{version}", response_class=HTMLResponse)
    def packet_version(incident_id: int, version: int, t: str = "") -> HTMLResponse:
        """A kept version of the packet: what leadership was told at that time."""
        rt, now = rt_of(), now_of()
        try:
            allowed = read_view_token(rt.settings.secret_key, t, now)
        except TokenError as exc:
            return _page(410 if exc.reason == "expired" else 403, heading=f"Link {exc.reason}")
        if allowed != incident_id:
            return _page(403, heading="Link not valid for this incident")
        with rt.sessions() as session:
            content = get_version(session, incident_id, version)
        if content is None:
            return _page(404, heading="No such version")
        return HTMLResponse(render_packet_html(content, version=version))

    @app.get("/api/incidents")
    def api_list(request: Request, open_only: bool = False) -> JSONResponse:
        authorize(request)
        with rt_of().sessions() as session:
            return JSONResponse(list_incidents(session, open_only=open_only))

    @app.get("/api/incidents/{incident_id}")
    def api_get(request: Request, incident_id: int) -> JSONResponse:
        authorize(request)
        with rt_of().sessions() as session:
            inc = get_incident(session, incident_id)
        if inc is None:
            raise HTTPException(404, "no such incident")
        return JSONResponse(inc)

    @app.post("/api/incidents/{incident_id}/ack")
    async def api_ack(request: Request, incident_id: int) -> JSONResponse:
        authorize(request)
        try:
            data = await request.json()
        except ValueError:
            data = {}
        by = str((data or {}).get("by") or "api")[:200]
        rt = rt_of()
        with rt.sessions.begin() as session:
            result = acknowledge(session, incident_id, by=by, via="api", now=now_of())
        status = 404 if result == AckResult.NOT_FOUND else 200
        return JSONResponse({"result": str(result)}, status_code=status)

    app.include_router(incidents_router(rt_of, now_of, authorize))
    app.include_router(api_v1_router(rt_of, now_of, auth))

    app.include_router(dashboard_router(rt_of, now_of, auth))

    app.include_router(push_router(rt_of, now_of))

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        """Each component's state. 503 only when the database is down (the web app itself cannot
        work); a stalled pipeline shows as `ok: false` with the reason, and pages through the
        dead man's switch."""
        rt, now = rt_of(), now_of()
        components: dict[str, dict[str, Any]] = {}
        try:
            with rt.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            components["database"] = {"ok": True}
        except Exception as exc:
            components["database"] = {"ok": False, "error": type(exc).__name__}
            return JSONResponse({"ok": False, "db": False, "components": components}, 503)
        components["broker"] = _broker_health(rt.settings.broker_url)
        with rt.sessions() as session:
            stalls = {s.component: s.detail for s in check_pipeline(session, rt.config, now)}
            down = session.scalar(
                select(func.count()).where(Source.enabled.is_(True), Source.healthy.is_(False))
            )
        for name in ("evaluation", "beat", "outbox"):
            components[name] = (
                {"ok": False, "detail": stalls[name]} if name in stalls else {"ok": True}
            )
        components["sources"] = {"ok": not down, "unhealthy": int(down or 0)}
        ok = all(c["ok"] for c in components.values())
        return JSONResponse({"ok": ok, "db": True, "components": components})

    registry = metrics.registry_for(lambda: rt_of().sessions, now_of)

    @app.get("/metrics")
    def metrics_endpoint() -> Response:
        """Prometheus text format, read from the database (see worker/metrics.py)."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    # Slack, Twilio and PagerDuty callbacks: no API token, each verifies its vendor's signature.
    app.include_router(integrations_router(rt_of, now_of))
    return app


def serve(runtime: Runtime, host: str, port: int) -> None:
    import uvicorn

    from worker.observability import init_sentry

    init_sentry(runtime.settings.sentry_dsn)
    uvicorn.run(
        create_app(lambda: runtime),
        host=host,
        port=port,
        log_level="info",
        proxy_headers=True,
        log_config=websecurity.uvicorn_log_config(),
    )
