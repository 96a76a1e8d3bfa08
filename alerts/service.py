"""The alerts side on the database, in one import for callers (tasks, replay, web, CLI).

Each part lives in its own module, by what a newcomer looks for:
- `alerts.opening` — signals (or a person) open, reopen or worsen a topic's incident.
- `alerts.firing` — the escalation tick: due steps fire, recipients resolved, pages written.
- `alerts.actions` — acknowledge, snooze, resolve, note, reassign (audited, idempotent).
- `alerts.auditor` — what is wrong with running escalations.
- `alerts.queries` — incidents as JSON-ready dicts.
Planning over plain data is in `alerts.incidents` (the state machine), `alerts.escalation`
(steps and due times), `alerts.schedules` (who is on call) and `alerts.recipients` (who gets
which page, when).
"""

from __future__ import annotations

from alerts.actions import (
    AckResult,
    ActionResult,
    acknowledge,
    add_note,
    auto_resolve,
    reassign,
    resolve,
    resolve_by_hand,
    snooze,
)
from alerts.auditor import audit
from alerts.firing import ACK_LINK_TTL, VIEW_LINK_TTL, escalation_tick
from alerts.opening import observe, open_by_hand
from alerts.queries import get_incident, list_incidents

__all__ = [
    "ACK_LINK_TTL",
    "VIEW_LINK_TTL",
    "AckResult",
    "ActionResult",
    "acknowledge",
    "add_note",
    "audit",
    "auto_resolve",
    "escalation_tick",
    "get_incident",
    "list_incidents",
    "observe",
    "open_by_hand",
    "reassign",
    "resolve",
    "resolve_by_hand",
    "snooze",
]
