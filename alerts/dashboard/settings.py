"""Settings: the effective configuration, read-only, and (for admins) "send a test notification".

Secrets are never shown: an option that names an environment variable (`*_env`) shows the
variable's name and whether it is set; options and settings that may carry a secret (tokens,
passwords, keys, URLs with credentials or paths) show only "set" / "unset" or the URL's scheme and
host. People's addresses are not shown either, only which contact methods they have.
The test goes through `alerts.notify_test.send_test`, the very path of `tocsin notify test`.
"""

import os
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.engine import make_url

from alerts.dashboard.common import Deps, Principal, Role, render, when
from alerts.dashboard.incidents import form_fields
from alerts.notify_test import send_test
from worker.config import Config
from worker.runtime import Runtime
from worker.storage.models import Notification

SECRET_WORDS = ("secret", "token", "password", "key", "dsn", "sid", "auth")
ENV_SHOWN = (
    "TOCSIN_SECRET_KEY",
    "TOCSIN_API_TOKEN",
    "TOCSIN_SENTRY_DSN",
    "TOCSIN_HEARTBEAT_URL",
    "TOCSIN_AUTH_PROXY_HEADER",
)


def set_or_unset(name: str) -> str:
    return "set" if os.environ.get(name) or os.environ.get(f"{name}_FILE") else "unset"


def host_only(url: str) -> str:
    """Scheme and host of a URL: a path or a query may hold a token (Slack, Teams webhooks)."""
    parts = urlsplit(url)
    if not parts.scheme:
        return "set" if url else "unset"
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    rest = " + path (hidden)" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{host}{port}{rest}"


def shown(key: str, value: Any) -> str:
    """One option as the page may show it."""
    k = key.lower()
    if k.endswith("_env"):
        return f"${value} ({set_or_unset(str(value))})" if value else "unset"
    if any(w in k for w in SECRET_WORDS):
        return "set" if value else "unset"
    if isinstance(value, str) and "://" in value:
        return host_only(value)
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _db_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return host_only(url)


def effective(rt: Runtime) -> dict[str, Any]:
    """Everything the Settings page lists, already made safe to show."""
    c: Config = rt.config
    s = rt.settings
    runtime_rows = [
        ("configuration file", str(s.config_path) if s.config_path.exists() else "none (defaults)"),
        ("data directory", str(s.data_dir)),
        ("database", _db_url(s.database_url)),
        ("broker", _db_url(s.broker_url)),
        ("base URL", s.base_url),
        ("web app listens on", f"{s.web_host}:{s.web_port}"),
        ("timezone", c.timezone),
        ("bucket minutes", str(c.bucket_minutes)),
    ] + [
        (
            name,
            os.environ.get(name, "unset")
            if name == "TOCSIN_AUTH_PROXY_HEADER"
            else set_or_unset(name),
        )
        for name in ENV_SHOWN
    ]
    if set_or_unset("TOCSIN_SECRET_KEY") == "unset":
        runtime_rows = [
            (k, "generated in the data directory" if k == "TOCSIN_SECRET_KEY" else v)
            for k, v in runtime_rows
        ]
    return {
        "runtime": runtime_rows,
        "topics": [
            {
                "name": t.name,
                "display_name": t.display_name,
                "queries": [(p, ", ".join(q)) for p, q in sorted(t.queries.items())],
                "policy": t.policy,
                "sensitivity": t.sensitivity,
                "poll_seconds": t.poll_seconds,
                "crisis_terms": len(t.crisis_terms),
                "thresholds": [(k, shown(k, v)) for k, v in sorted(t.thresholds.items())],
            }
            for t in c.topics.values()
        ],
        "people": [
            {
                "id": p.id,
                "name": p.name,
                "role": p.role,
                "methods": [
                    m
                    for m, v in (
                        ("email", p.email),
                        ("phone", p.phone),
                        ("slack", p.slack_user_id),
                        ("teams", p.teams),
                    )
                    if v
                ],
            }
            for p in sorted(c.people.values(), key=lambda p: p.id)
        ],
        "groups": sorted((g, ", ".join(m)) for g, m in c.groups.items()),
        "policies": [
            {
                "name": p.name,
                "severe_at": p.severe_at,
                "auto_resolve_minutes": p.auto_resolve_minutes,
                "reopen_minutes": p.reopen_minutes,
                "steps": [
                    f"after {st.after_minutes:g} min: {', '.join(st.notify)} on "
                    f"{', '.join(st.channels)} ({st.role})"
                    for st in p.steps
                ],
            }
            for p in c.policies.values()
        ],
        "channels": [
            {
                "name": ch.name,
                "type": ch.type,
                "options": [(k, shown(k, v)) for k, v in sorted(ch.options.items())],
            }
            for ch in sorted(c.channels.values(), key=lambda ch: ch.name)
        ],
        "sources": [
            (name, [(k, shown(k, v)) for k, v in sorted(_items(opts))])
            for name, opts in sorted(c.sources.items())
        ],
        "reports": [
            ("weekly", c.reports.weekly_at() or "off"),
            ("recipients", c.reports.recipients),
            ("channels", ", ".join(c.reports.channels) or "the default policy's last step"),
            ("language", c.reports.language),
        ],
    }


def _items(opts: Any) -> list[tuple[str, Any]]:
    if isinstance(opts, dict):
        return list(opts.items())
    if hasattr(opts, "model_dump"):
        return list(opts.model_dump().items())
    if hasattr(opts, "__dict__"):
        return list(vars(opts).items())
    return [("value", opts)]


def router(deps: Deps) -> APIRouter:
    r = APIRouter()

    def page(
        request: Request, who: Principal, outcome: dict[str, Any] | None, error: str, status: int
    ) -> HTMLResponse:
        rt = deps.rt_of()
        return render(
            request,
            deps,
            who,
            "dash_settings.html",
            status=status,
            title="Settings",
            cfg=effective(rt),
            channels=sorted(rt.config.channels),
            people=sorted((p.id, p.name) for p in rt.config.people.values()),
            outcome=outcome,
            error=error,
        )

    @r.get("/settings", response_class=HTMLResponse)
    def settings_page(
        request: Request,
        who: Annotated[Principal, Depends(deps.auth.page(Role.viewer))],
        test: int = 0,
    ) -> HTMLResponse:
        rt = deps.rt_of()
        outcome = None
        if 0 < test < 2**31 and who.role >= Role.admin:
            with rt.sessions() as session:
                n = session.get(Notification, test)
                if n is not None and n.role == "test":
                    outcome = {
                        "ok": n.status == "sent",
                        "text": f"{n.channel} → {n.recipient}: {n.status}"
                        + (f" ({n.last_error})" if n.last_error else "")
                        + f", {when(n.sent_at or n.created_at, rt.config.timezone)}",
                    }
        return page(request, who, outcome, "", 200)

    @r.post("/settings/test-notification", response_model=None)
    async def test_notification(
        request: Request, who: Annotated[Principal, Depends(deps.auth.page(Role.admin))]
    ) -> RedirectResponse | HTMLResponse:
        fields = await form_fields(request)
        deps.auth.check_csrf(request, fields.get("csrf_token"))
        rt = deps.rt_of()
        now: datetime = deps.now_of()
        try:
            out = send_test(rt, fields.get("channel", ""), fields.get("to", ""), now)
        except ValueError as exc:
            # Shown on the page answering the form (never carried in a URL).
            return page(request, who, None, str(exc), 422)
        # The outcome is read back from the notification row: a reload re-reads, never resends.
        return RedirectResponse(f"/settings?test={out.notification_id}#test", status_code=303)

    return r


__all__ = ["effective", "router", "shown"]
