"""One row of an incident's timeline (`incident_events`): what happened, when, by whom, how."""

from __future__ import annotations

from contextvars import ContextVar
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from worker.storage.models import IncidentEvent

# Where the current web request came from (the client address as the web app sees it: behind a
# trusted reverse proxy, the forwarded one). Set by `alerts.web` around each request, so every
# row written while serving it records "from where" without each action taking it as an argument.
ORIGIN: ContextVar[str | None] = ContextVar("tocsin_request_origin", default=None)


def event(
    session: Session,
    incident_id: int,
    at: datetime,
    kind: str,
    actor: str | None = None,
    **detail: Any,
) -> None:
    """Record `kind` (opened, step_fired, acknowledged, snoozed, note, …). Actions by people carry
    `actor` (who) and `via` in the detail (cli, api, link, dashboard, slack, sms, …); inside a
    web request, also `from` (the client address: the audit's "from where")."""
    origin = ORIGIN.get()
    if origin is not None and "from" not in detail:
        detail["from"] = origin
    session.add(
        IncidentEvent(incident_id=incident_id, at=at, kind=kind, actor=actor, detail=detail)
    )
