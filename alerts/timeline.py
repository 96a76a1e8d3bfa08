"""One row of an incident's timeline (`incident_events`): what happened, when, by whom, how."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from worker.storage.models import IncidentEvent


def event(
    session: Session,
    incident_id: int,
    at: datetime,
    kind: str,
    actor: str | None = None,
    **detail: Any,
) -> None:
    """Record `kind` (opened, step_fired, acknowledged, snoozed, note, …). Actions by people carry
    `actor` (who) and `via` in the detail (cli, api, link, dashboard, slack, sms, …)."""
    session.add(
        IncidentEvent(incident_id=incident_id, at=at, kind=kind, actor=actor, detail=detail)
    )
