"""Reading incidents for people and programs: the list (`tocsin incidents`, `/api/incidents`) and
one incident with its timeline, signals, pages and problems."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.incidents import RESOLVED
from worker.storage.models import Acknowledgement, Incident, IncidentEvent, Notification, SignalRow


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _row(inc: Incident, via: str | None) -> dict[str, Any]:
    return {
        "id": inc.id,
        "topic": inc.topic,
        "title": inc.title,
        "state": str(inc.state),
        "severity": inc.severity,
        "kinds": list(inc.kinds),
        "peak": inc.peak,
        "opened_at": inc.opened_at.isoformat(),
        "updated_at": inc.updated_at.isoformat(),
        "acknowledged_at": _iso(inc.acknowledged_at),
        "acknowledged_by": inc.acknowledged_by,
        "acknowledged_via": via if inc.acknowledged_at else None,
        "resolved_at": _iso(inc.resolved_at),
        "snoozed_until": _iso(inc.snoozed_until),
        "assigned_to": inc.assigned_to,
        "reopened": int(inc.summary.get("reopened", 0)),
        "next_due_at": _iso(inc.next_due_at),
        "explanations": list(inc.summary.get("explanations", [])),
    }


def _vias(session: Session, ids: list[int]) -> dict[int, str]:
    """The channel of each incident's latest acknowledgement."""
    out: dict[int, str] = {}
    if ids:
        for inc_id, via in session.execute(
            select(Acknowledgement.incident_id, Acknowledgement.via)
            .where(Acknowledgement.incident_id.in_(ids))
            .order_by(Acknowledgement.at, Acknowledgement.id)
        ):
            out[inc_id] = via
    return out


def list_incidents(
    session: Session,
    *,
    open_only: bool = False,
    limit: int = 50,
    topic: str | None = None,
    state: str | None = None,
    severity: int | None = None,
) -> list[dict[str, Any]]:
    """Newest first; `severity` keeps incidents at least that bad (1 is the worst)."""
    q = select(Incident).order_by(Incident.opened_at.desc(), Incident.id.desc()).limit(limit)
    if open_only:
        q = q.where(Incident.state != RESOLVED)
    if topic is not None:
        q = q.where(Incident.topic == topic)
    if state is not None:
        q = q.where(Incident.state == state)
    if severity is not None:
        q = q.where(Incident.severity <= severity)
    incidents = list(session.scalars(q))
    vias = _vias(session, [i.id for i in incidents])
    return [_row(i, vias.get(i.id)) for i in incidents]


def get_incident(session: Session, incident_id: int) -> dict[str, Any] | None:
    inc = session.get(Incident, incident_id)
    if inc is None:
        return None
    data = _row(inc, _vias(session, [inc.id]).get(inc.id))
    events = session.scalars(
        select(IncidentEvent)
        .where(IncidentEvent.incident_id == incident_id)
        .order_by(IncidentEvent.at, IncidentEvent.id)
    ).all()
    data["timeline"] = [
        {"at": e.at.isoformat(), "kind": e.kind, "actor": e.actor, "detail": e.detail}
        for e in events
    ]
    data["notes"] = [
        {"at": e.at.isoformat(), "by": e.actor, "text": e.detail.get("text", "")}
        for e in events
        if e.kind == "note"
    ]
    data["problems"] = [e.detail.get("problem", "") for e in events if e.kind == "step_problem"]
    data["signals"] = [
        {
            "id": s.id,
            "kind": s.kind,
            "at": s.at.isoformat(),
            "severity": s.severity,
            "explanation": s.explanation,
            "top_mentions": s.top_mentions,
            "evidence": s.evidence,
        }
        for s in session.scalars(
            select(SignalRow).where(SignalRow.incident_id == incident_id).order_by(SignalRow.at)
        )
    ]
    data["notifications"] = [
        {
            "id": n.id,
            "step": n.step,
            "recipient": n.recipient,
            "role": n.role,
            "channel": n.channel,
            "status": n.status,
            "due_at": _iso(n.next_attempt_at) if n.status == "pending" else None,
            "sent_at": _iso(n.sent_at),
        }
        for n in session.scalars(
            select(Notification)
            .where(Notification.incident_id == incident_id)
            .order_by(Notification.id)
        )
    ]
    return data


__all__ = ["get_incident", "list_incidents"]
