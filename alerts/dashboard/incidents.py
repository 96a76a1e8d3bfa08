"""Incidents: the list with filters, one incident's page, its live JSON and the action forms.

The detail page shows the condensed timeline (`alerts.packets.words.condense_timeline`, the
packet's own), the signals with their evidence, every notification with its delivery status, and
the packet versions (signed links to the packet pages). Responders and admins see the action
forms; each form posts a `csrf_token`, is checked by `auth.check_csrf`, acts through
`alerts.actions` with `by = the signed-in name` and `via = "dashboard"`, and redirects back (303).
A viewer gets no form, and a forged POST from a viewer is refused (403) by the role check.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alerts.actions import (
    AckResult,
    ActionResult,
    acknowledge,
    add_note,
    reassign,
    resolve_by_hand,
    snooze,
)
from alerts.dashboard.common import Deps, Principal, Role, age, not_found, render, when
from alerts.firing import VIEW_LINK_TTL
from alerts.incidents import OPEN_STATES, RESOLVED
from alerts.packets import list_versions
from alerts.packets.words import condense_timeline
from alerts.tokens import make_view_token
from worker.config import Config
from worker.storage.models import (
    DeliveryAttempt,
    Incident,
    IncidentEvent,
    Notification,
    SignalRow,
)

VIA = "dashboard"
PAGE = 50
STATES = ("open", "triggered", "acknowledged", "snoozed", "resolved", "all")
ACTIONS = ("acknowledge", "snooze", "resolve", "note", "reassign")


def incident_rows(
    session: Session,
    now: datetime,
    tz: str,
    *,
    state: str = "open",
    topic: str | None = None,
    severity: int | None = None,
    page: int = 1,
) -> tuple[list[dict[str, Any]], int]:
    """One page of incidents, newest first, and how many match."""
    q = select(Incident)
    if state == "open":
        q = q.where(Incident.state.in_(OPEN_STATES))
    elif state != "all":
        q = q.where(Incident.state == state)
    if topic:
        q = q.where(Incident.topic == topic)
    if severity:
        q = q.where(Incident.severity == severity)
    total = int(session.scalar(select(func.count()).select_from(q.subquery())) or 0)
    rows = session.scalars(
        q.order_by(Incident.opened_at.desc(), Incident.id.desc())
        .limit(PAGE)
        .offset((page - 1) * PAGE)
    ).all()
    return [
        {
            "id": i.id,
            "topic": i.topic,
            "title": i.title,
            "state": i.state,
            "severity": i.severity,
            "opened": when(i.opened_at, tz),
            "age": age((i.resolved_at or now) - i.opened_at),
            "acknowledged_by": i.acknowledged_by,
            "assigned_to": i.assigned_to,
        }
        for i in rows
    ], total


def live_state(
    session: Session, inc: Incident, now: datetime, tz: str, secret_key: str
) -> dict[str, Any]:
    """What the incident page refreshes without reloading: state, who, timeline, pages, signals
    and packet versions (their links carry a view token, as on the page itself)."""
    events = session.scalars(
        select(IncidentEvent)
        .where(IncidentEvent.incident_id == inc.id)
        .order_by(IncidentEvent.at, IncidentEvent.id)
    ).all()
    notes = session.scalars(
        select(Notification).where(Notification.incident_id == inc.id).order_by(Notification.id)
    ).all()
    return {
        "id": inc.id,
        "state": inc.state,
        "severity": inc.severity,
        "age": age((inc.resolved_at or now) - inc.opened_at),
        "acknowledged": (
            f"Acknowledged by {inc.acknowledged_by} at {when(inc.acknowledged_at, tz)}"
            if inc.acknowledged_at
            else ""
        ),
        "assigned_to": inc.assigned_to or "",
        "snoozed_until": when(inc.snoozed_until, tz) if inc.snoozed_until else "",
        "timeline": condense_timeline(events, inc.policy, tz),
        "notifications": [
            {
                "id": n.id,
                "step": n.step + 1,
                "recipient": n.recipient,
                "role": n.role,
                "channel": n.channel,
                "status": n.status,
                "attempts": n.attempts,
                "at": when(n.sent_at or n.next_attempt_at or n.created_at, tz),
                "error": n.last_error or "",
            }
            for n in notes
        ],
        "attempts": int(
            session.scalar(
                select(func.count())
                .select_from(DeliveryAttempt)
                .join(Notification, Notification.id == DeliveryAttempt.notification_id)
                .where(Notification.incident_id == inc.id)
            )
            or 0
        ),
        "event_count": len(events),
        "signals": _signals(session, inc.id, tz),
        "versions": _versions(session, inc.id, now, tz, secret_key),
    }


def _versions(
    session: Session, incident_id: int, now: datetime, tz: str, secret_key: str
) -> list[dict[str, Any]]:
    token = make_view_token(secret_key, incident_id, now + VIEW_LINK_TTL)
    return [
        {
            "version": v["version"],
            "at": when(datetime.fromisoformat(v["generated_at"]), tz),
            "href": f"/incidents/{incident_id}/packet/v/{v['version']}?t={token}",
        }
        for v in list_versions(session, incident_id)
    ]


def _signals(session: Session, incident_id: int, tz: str) -> list[dict[str, Any]]:
    out = []
    for s in session.scalars(
        select(SignalRow).where(SignalRow.incident_id == incident_id).order_by(SignalRow.at)
    ):
        evidence = [(str(k), _plain(v)) for k, v in sorted((s.evidence or {}).items())]
        out.append(
            {
                "kind": s.kind.replace("_", " "),
                "at": when(s.at, tz),
                "severity": s.severity,
                "explanation": s.explanation,
                "evidence": evidence,
                "top_mentions": [str(m) for m in (s.top_mentions or [])][:5],
            }
        )
    return out


def _plain(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    if isinstance(v, list | tuple):
        return ", ".join(_plain(x) for x in v[:10]) + (" …" if len(v) > 10 else "")
    if isinstance(v, dict):
        return "; ".join(f"{k}: {_plain(x)}" for k, x in list(v.items())[:10])
    return str(v)


async def form_fields(request: Request) -> dict[str, str]:
    """An `application/x-www-form-urlencoded` body, first value of each field."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


def _act(
    action: str, fields: dict[str, str], config: Config
) -> Callable[[Session, int, str, datetime], Any]:
    if action == "acknowledge":
        return lambda s, i, by, now: acknowledge(s, i, by=by, via=VIA, now=now)
    if action == "resolve":
        return lambda s, i, by, now: resolve_by_hand(s, i, by=by, via=VIA, now=now)
    if action == "snooze":
        try:
            minutes = float(fields.get("minutes", ""))
        except ValueError:
            raise ValueError("minutes: give a number of minutes, e.g. 30") from None
        return lambda s, i, by, now: snooze(s, i, minutes=minutes, by=by, via=VIA, now=now)
    if action == "note":
        text = fields.get("text", "")
        return lambda s, i, by, now: add_note(s, i, text=text, by=by, via=VIA, now=now)
    if action == "reassign":
        to = fields.get("to", "")
        return lambda s, i, by, now: reassign(s, config, i, to=to, by=by, via=VIA, now=now)
    raise HTTPException(404, "no such action")


#: What the page says after an action (shown once, from the redirect's query string).
OUTCOME = {
    str(AckResult.ACKNOWLEDGED): "Acknowledged.",
    str(AckResult.ALREADY_ACKNOWLEDGED): "Already acknowledged: nothing changed.",
    str(ActionResult.DONE): "Done.",
    str(ActionResult.UNCHANGED): "Nothing changed (it was already so).",
    str(ActionResult.RESOLVED): "The incident is resolved: nothing to act on.",
    str(ActionResult.UNKNOWN_PERSON): "No such person in tocsin.toml.",
    "invalid": "That did not work: check the form.",
}


def router(deps: Deps) -> APIRouter:
    r = APIRouter()
    viewer = deps.auth.page(Role.viewer)
    responder = deps.auth.page(Role.responder)

    @r.get("/incidents", response_class=HTMLResponse)
    def incident_list(
        request: Request,
        who: Annotated[Principal, Depends(viewer)],
        state: str = "open",
        topic: str = "",
        severity: int = 0,
        page: int = 1,
    ) -> HTMLResponse:
        rt, now = deps.rt_of(), deps.now_of()
        state = state if state in STATES else "open"
        page = max(1, page)
        with rt.sessions() as session:
            rows, total = incident_rows(
                session,
                now,
                rt.config.timezone,
                state=state,
                topic=topic or None,
                severity=severity if 1 <= severity <= 4 else None,
                page=page,
            )
            topics = sorted(
                set(rt.config.topics) | set(session.scalars(select(Incident.topic).distinct()))
            )
        return render(
            request,
            deps,
            who,
            "dash_incidents.html",
            title="Incidents",
            rows=rows,
            total=total,
            page=page,
            pages=max(1, -(-total // PAGE)),
            states=STATES,
            topics=topics,
            f={"state": state, "topic": topic, "severity": severity},
        )

    @r.get("/incidents/{incident_id}", response_class=HTMLResponse)
    def incident_page(
        request: Request,
        who: Annotated[Principal, Depends(viewer)],
        incident_id: int,
        done: str = "",
    ) -> HTMLResponse:
        rt, now = deps.rt_of(), deps.now_of()
        tz = rt.config.timezone
        with rt.sessions() as session:
            inc = session.get(Incident, incident_id)
            if inc is None:
                return not_found(request, deps, who)
            live = live_state(session, inc, now, tz, rt.settings.secret_key)
            token = make_view_token(rt.settings.secret_key, incident_id, now + VIEW_LINK_TTL)
            inc_data = {
                "id": inc.id,
                "title": inc.title,
                "topic": inc.topic,
                "opened": when(inc.opened_at, tz),
                "resolved": when(inc.resolved_at, tz) if inc.resolved_at else "",
                "kinds": ", ".join(str(k).replace("_", " ") for k in inc.kinds),
                "explanations": list(inc.summary.get("explanations", []))[:3],
                "open": inc.state != RESOLVED,
            }
        return render(
            request,
            deps,
            who,
            "dash_incident.html",
            title=f"Incident #{incident_id}",
            inc=inc_data,
            live=live,
            signals=live["signals"],
            versions=live["versions"],
            packet_href=f"/incidents/{incident_id}/packet?t={token}",
            attempts=live["attempts"],
            people=sorted((p.id, p.name) for p in rt.config.people.values()),
            outcome=OUTCOME.get(done, ""),
        )

    @r.get("/live/incidents/{incident_id}")
    def incident_live(
        who: Annotated[Principal, Depends(deps.auth.api(Role.viewer))], incident_id: int
    ) -> JSONResponse:
        rt, now = deps.rt_of(), deps.now_of()
        with rt.sessions() as session:
            inc = session.get(Incident, incident_id)
            if inc is None:
                raise HTTPException(404, "no such incident")
            tz, key = rt.config.timezone, rt.settings.secret_key
            return JSONResponse(live_state(session, inc, now, tz, key))

    @r.post("/incidents/{incident_id}/{action}")
    async def incident_action(
        request: Request,
        who: Annotated[Principal, Depends(responder)],
        incident_id: int,
        action: str,
    ) -> RedirectResponse:
        if action not in ACTIONS:
            raise HTTPException(404, "no such action")
        fields = await form_fields(request)
        deps.auth.check_csrf(request, fields.get("csrf_token"))
        rt = deps.rt_of()
        try:
            do = _act(action, fields, rt.config)
            with rt.sessions.begin() as session:
                if session.get(Incident, incident_id) is None:
                    raise HTTPException(404, "no such incident")
                result = str(do(session, incident_id, who.name, deps.now_of()))
        except ValueError:
            result = "invalid"
        return RedirectResponse(f"/incidents/{incident_id}?done={result}", status_code=303)

    return r


__all__ = ["incident_rows", "live_state", "router"]
