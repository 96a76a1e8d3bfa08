"""Escalation planning over plain data: the policy snapshot, which step is due when, and whom
each step is for. Firing the steps (writing the pages) is `alerts.firing`.

The policy is copied onto the incident when it opens (a JSON snapshot), so editing tocsin.toml
never changes an escalation that is already running. The targets are names (a person id, a group,
or `schedule:NAME`), resolved to people only when the step fires (`alerts.recipients`).
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
        "reopen_minutes": policy.reopen_minutes,
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
    target: str  # a person id, a group name or "schedule:NAME"
    channels: tuple[str, ...]
    role: str
    #: The step this page belongs to. A severe incident's first step also pages the last step's
    #: targets *for the last step*, so that step, when it comes due, pages nobody twice.
    for_step: int = 0


def due_at(snap: dict[str, Any], index: int, base: datetime) -> datetime | None:
    """When step `index` is due, counting from `base` (the opening, or the restart of the
    escalation); None when the policy has no such step and does not repeat."""
    steps = snap["steps"]
    if index < len(steps):
        return base + timedelta(minutes=float(steps[index]["after_minutes"]))
    repeat = float(snap.get("repeat_minutes") or 0)
    if repeat <= 0 or not steps:
        return None
    last = base + timedelta(minutes=float(steps[-1]["after_minutes"]))
    return last + timedelta(minutes=repeat * (index - len(steps) + 1))


def is_severe(snap: dict[str, Any], severity: int) -> bool:
    severe_at = int(snap.get("severe_at") or 0)
    return bool(severe_at) and severity <= severe_at and len(snap["steps"]) > 1


def targets(snap: dict[str, Any], index: int, severity: int) -> list[Target]:
    """Who step `index` notifies. A severe incident's first step also reaches the last step's
    targets (leadership hears of a SEV1 at once); a repeat re-notifies the last step."""
    steps = snap["steps"]
    step = steps[min(index, len(steps) - 1)]
    out = [Target(t, tuple(step["channels"]), step["role"], index) for t in step["notify"]]
    if index == 0 and is_severe(snap, severity):
        last = steps[-1]
        out += [
            Target(t, tuple(last["channels"]), last["role"], len(steps) - 1) for t in last["notify"]
        ]
    return out
