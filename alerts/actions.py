"""What people do to an incident: acknowledge, snooze, resolve, note, reassign (and open by hand,
in `alerts.opening`). The CLI, the API, signed links and chat buttons all call these.

Every action is audited — one timeline row with who (`actor`), when (`at`) and through which
channel (`via`: cli, api, link, dashboard, slack, sms, …) — and idempotent: each state change is
one conditional UPDATE that bumps the fence, so repeating an action (a double click, a retried
request) changes nothing the second time and says so.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from alerts.incidents import (
    ACKNOWLEDGED,
    OPEN_STATES,
    RESOLVED,
    SNOOZED,
    TRIGGERED,
    should_auto_resolve,
)
from alerts.opening import facts
from alerts.timeline import event
from worker.config import Config
from worker.storage.models import Acknowledgement, Incident, IncidentEvent, Notification

MAX_SNOOZE_MINUTES = 7 * 24 * 60
MAX_NOTE_CHARS = 4000


class AckResult(enum.StrEnum):
    ACKNOWLEDGED = "acknowledged"
    ALREADY_ACKNOWLEDGED = "already_acknowledged"
    RESOLVED = "resolved"
    NOT_FOUND = "not_found"
    TOKEN_USED = "token_used"  # noqa: S105 - a result name, not a secret


class ActionResult(enum.StrEnum):
    DONE = "done"
    UNCHANGED = "unchanged"  # the same action again: nothing to do
    RESOLVED = "resolved"  # the incident is resolved: nothing to act on
    NOT_FOUND = "not_found"
    UNKNOWN_PERSON = "unknown_person"


def _cancel_pending(session: Session, incident_id: int, why: str) -> None:
    """Pages not yet delivered are cancelled rather than sent late."""
    session.execute(
        update(Notification)
        .where(Notification.incident_id == incident_id, Notification.status == "pending")
        .values(status="cancelled", last_error=why)
        .execution_options(synchronize_session=False)
    )


def acknowledge(
    session: Session,
    incident_id: int,
    *,
    by: str,
    via: str,
    now: datetime,
    token_id: str | None = None,
) -> AckResult:
    """Acknowledge once: stops the escalation and cancels pending pages. Twice changes nothing."""
    if token_id is not None and session.scalar(
        select(Acknowledgement.id).where(Acknowledgement.token_id == token_id)
    ):
        return AckResult.TOKEN_USED
    inc = session.get(Incident, incident_id)
    if inc is None:
        return AckResult.NOT_FOUND
    if inc.state == RESOLVED:
        return AckResult.RESOLVED
    changed = session.execute(
        update(Incident)
        .where(Incident.id == incident_id, Incident.state.in_([TRIGGERED, SNOOZED]))
        .values(
            state=ACKNOWLEDGED,
            acknowledged_at=now,
            acknowledged_by=by,
            snoozed_until=None,
            fence=Incident.fence + 1,
            next_due_at=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        return AckResult.ALREADY_ACKNOWLEDGED
    # token_id is unique: a link used twice at the very same moment fails here and rolls back.
    session.add(Acknowledgement(incident_id=incident_id, at=now, by=by, via=via, token_id=token_id))
    _cancel_pending(session, incident_id, "incident acknowledged")
    event(session, incident_id, now, "acknowledged", actor=by, via=via)
    session.refresh(inc)
    return AckResult.ACKNOWLEDGED


def snooze(
    session: Session, incident_id: int, *, minutes: float, by: str, via: str, now: datetime
) -> ActionResult:
    """Pause the escalation for `minutes`; then the incident is triggered again and its
    escalation starts over from the first step (`alerts.firing.wake`). Pending pages are cancelled. Snoozing again only
    ever extends the snooze."""
    if not 0 < minutes <= MAX_SNOOZE_MINUTES:
        raise ValueError(f"minutes must be between 1 and {MAX_SNOOZE_MINUTES}, got {minutes:g}")
    inc = session.get(Incident, incident_id)
    if inc is None:
        return ActionResult.NOT_FOUND
    if inc.state == RESOLVED:
        return ActionResult.RESOLVED
    until = now + timedelta(minutes=minutes)
    if inc.state == SNOOZED and inc.snoozed_until is not None and inc.snoozed_until >= until:
        return ActionResult.UNCHANGED
    changed = session.execute(
        update(Incident)
        .where(Incident.id == incident_id, Incident.fence == inc.fence, Incident.state == inc.state)
        .values(
            state=SNOOZED,
            snoozed_until=until,
            next_due_at=until,
            fence=Incident.fence + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        return ActionResult.UNCHANGED  # raced with another change: the caller may try again
    _cancel_pending(session, incident_id, "incident snoozed")
    event(
        session,
        incident_id,
        now,
        "snoozed",
        actor=by,
        via=via,
        minutes=minutes,
        until=until.isoformat(),
    )
    session.refresh(inc)
    return ActionResult.DONE


def resolve(
    session: Session,
    incident_id: int,
    *,
    by: str,
    now: datetime,
    reason: str = "resolved by hand",
    via: str = "tocsin",
) -> bool:
    """Resolve an open incident; False if it was not open (already resolved, or no such id)."""
    changed = session.execute(
        update(Incident)
        .where(Incident.id == incident_id, Incident.state.in_(OPEN_STATES))
        .values(
            state=RESOLVED,
            resolved_at=now,
            snoozed_until=None,
            fence=Incident.fence + 1,
            next_due_at=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        return False
    _cancel_pending(session, incident_id, "incident resolved")
    event(session, incident_id, now, "resolved", actor=by, reason=reason, via=via)
    return True


def auto_resolve(sessions: sessionmaker[Session], config: Config, now: datetime) -> int:
    """The one action tocsin takes itself: resolve open incidents quiet for their policy's
    `auto_resolve_minutes` (a snoozed or acknowledged one too)."""
    count = 0
    with sessions.begin() as session:
        for inc in session.scalars(select(Incident).where(Incident.state.in_(OPEN_STATES))).all():
            quiet = float(inc.policy.get("auto_resolve_minutes", 120))
            if should_auto_resolve(facts(inc), now, quiet):
                count += resolve(
                    session,
                    inc.id,
                    by="tocsin",
                    now=now,
                    reason=f"no new signal for {quiet:g} minutes",
                )
    return count


def resolve_by_hand(
    session: Session, incident_id: int, *, by: str, via: str, now: datetime
) -> ActionResult:
    if resolve(session, incident_id, by=by, now=now, reason=f"by {by}", via=via):
        return ActionResult.DONE
    exists = session.get(Incident, incident_id) is not None
    return ActionResult.RESOLVED if exists else ActionResult.NOT_FOUND


def add_note(
    session: Session,
    incident_id: int,
    *,
    text: str,
    by: str,
    via: str,
    now: datetime,
    key: str | None = None,
) -> ActionResult:
    """Add a note to the timeline (and the packet's "what we know"). A note may be added to a
    resolved incident too. With `key` (a client's idempotency key), the same key twice adds one
    note."""
    text = text.replace("\r\n", "\n").strip()[:MAX_NOTE_CHARS]
    if not text:
        raise ValueError("the note is empty")
    if session.get(Incident, incident_id) is None:
        return ActionResult.NOT_FOUND
    if key is not None:
        notes = session.scalars(
            select(IncidentEvent.detail).where(
                IncidentEvent.incident_id == incident_id, IncidentEvent.kind == "note"
            )
        )
        if any(d.get("key") == key for d in notes):
            return ActionResult.UNCHANGED
    detail = {"text": text, "via": via, **({"key": key[:100]} if key else {})}
    event(session, incident_id, now, "note", actor=by, **detail)
    return ActionResult.DONE


def reassign(
    session: Session,
    config: Config,
    incident_id: int,
    *,
    to: str,
    by: str,
    via: str,
    now: datetime,
) -> ActionResult:
    """Hand the incident to person `to`: it is triggered again (an acknowledgement by someone
    else no longer holds), the escalation starts over from its first step now, and on-call steps
    page `to` instead of their targets until they acknowledge. Leadership briefings already sent
    are not sent again (`alerts.firing.page_key`)."""
    if to not in config.people:
        return ActionResult.UNKNOWN_PERSON
    inc = session.get(Incident, incident_id)
    if inc is None:
        return ActionResult.NOT_FOUND
    if inc.state == RESOLVED:
        return ActionResult.RESOLVED
    if inc.assigned_to == to and inc.state in (TRIGGERED, ACKNOWLEDGED):
        return ActionResult.UNCHANGED  # already theirs (acknowledged by them, or paging them)
    changed = session.execute(
        update(Incident)
        .where(Incident.id == incident_id, Incident.fence == inc.fence, Incident.state == inc.state)
        .values(
            state=TRIGGERED,
            assigned_to=to,
            acknowledged_at=None,
            acknowledged_by=None,
            snoozed_until=None,
            next_step=0,
            escalation_base_at=now,
            escalation_round=Incident.escalation_round + 1,
            next_due_at=now,
            fence=Incident.fence + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        return ActionResult.UNCHANGED
    _cancel_pending(session, incident_id, f"incident reassigned to {to}")
    event(session, incident_id, now, "reassigned", actor=by, via=via, to=to)
    session.refresh(inc)
    return ActionResult.DONE


__all__ = [
    "AckResult",
    "ActionResult",
    "acknowledge",
    "add_note",
    "auto_resolve",
    "reassign",
    "resolve",
    "resolve_by_hand",
    "snooze",
]
