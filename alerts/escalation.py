"""Escalation planning over plain data: the policy snapshot and which step is due when.

The policy is copied onto the incident when it opens (a JSON snapshot), so editing tocsin.toml
never changes an escalation that is already running.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from worker.config import Policy


def snapshot(policy: Policy) -> dict[str, Any]:
    return {
        "name": policy.name,
        "severe_at": policy.severe_at,
        "repeat_minutes": policy.repeat_minutes,
        "auto_resolve_minutes": policy.auto_resolve_minutes,
        "steps": [
            {
                "after_minutes": s.after_minutes,
                "notify": list(s.notify),
                "channels": list(s.channels),
                "role": s.role,
            }
            for s in policy.steps
        ],
    }


@dataclass(frozen=True)
class Target:
    target: str  # a person id or a group name
    channels: tuple[str, ...]
    role: str


def due_at(snap: dict[str, Any], index: int, opened_at: datetime) -> datetime | None:
    """When step `index` is due; None when the policy has no such step and does not repeat."""
    steps = snap["steps"]
    if index < len(steps):
        return opened_at + timedelta(minutes=float(steps[index]["after_minutes"]))
    repeat = float(snap.get("repeat_minutes") or 0)
    if repeat <= 0 or not steps:
        return None
    last = opened_at + timedelta(minutes=float(steps[-1]["after_minutes"]))
    return last + timedelta(minutes=repeat * (index - len(steps) + 1))


def targets(snap: dict[str, Any], index: int, severity: int) -> list[Target]:
    """Who step `index` notifies. A severe incident's first step also reaches the last step's
    targets (leadership hears of a SEV1 at once); a repeat re-notifies the last step."""
    steps = snap["steps"]
    step = steps[min(index, len(steps) - 1)]
    out = [Target(t, tuple(step["channels"]), step["role"]) for t in step["notify"]]
    severe_at = int(snap.get("severe_at") or 0)
    if index == 0 and len(steps) > 1 and severe_at and severity <= severe_at:
        last = steps[-1]
        out += [Target(t, tuple(last["channels"]), last["role"]) for t in last["notify"]]
    return out
