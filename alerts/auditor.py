"""The auditor: checks that every running escalation will do what it promises.

A problem is a sentence naming the incident. The Celery task logs each one and pings the external
heartbeat only when there is none, so a silent escalation is noticed from outside.
1. A triggered incident with steps left must have a next due time, and that time must not be
   long past (else the beat tick is not running); a snoozed one must have a wake-up time.
2. A step that fired at nobody — a target that resolves to no one (a group renamed after the
   incident opened), a person with no address for the step's channel and no other contact
   method — is reported while the incident is open. It was recorded when the step fired.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.incidents import ACKNOWLEDGED, SNOOZED, TRIGGERED
from worker.storage.models import Incident, IncidentEvent

OVERDUE = timedelta(minutes=5)


def audit(session: Session, now: datetime) -> list[str]:
    problems = []
    q = select(Incident).where(Incident.state.in_([TRIGGERED, ACKNOWLEDGED, SNOOZED]))
    open_ids = []
    for inc in session.scalars(q.order_by(Incident.id)).all():
        open_ids.append(inc.id)
        steps_left = inc.next_step < len(inc.policy.get("steps", []))
        if inc.state == TRIGGERED and inc.next_due_at is None and steps_left:
            problems.append(f"incident {inc.id}: triggered with steps left but no due time")
        elif inc.state == SNOOZED and inc.next_due_at is None:
            problems.append(f"incident {inc.id}: snoozed with no time to wake up")
        elif inc.next_due_at is not None and now - inc.next_due_at > OVERDUE:
            problems.append(
                f"incident {inc.id}: step {inc.next_step} overdue since "
                f"{inc.next_due_at.isoformat()} (is beat running?)"
            )
    if open_ids:
        rows = session.execute(
            select(IncidentEvent.incident_id, IncidentEvent.detail)
            .where(IncidentEvent.incident_id.in_(open_ids), IncidentEvent.kind == "step_problem")
            .order_by(IncidentEvent.id)
        ).all()
        problems += [f"incident {i}: {d.get('problem', 'step problem')}" for i, d in rows]
    return problems


__all__ = ["audit"]
