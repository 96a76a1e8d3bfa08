"""The incident state machine over plain data (no database, time is an argument).

States (`IncidentState`): triggered → acknowledged → resolved, plus snoozed (escalation paused
until `snoozed_until`, then triggered again). For a topic and new signals:
1. No open incident → open one: severity is the worst signal's, kinds and peak from the signals —
   unless every signal is about the watch itself (`silence`, `source_down`): those are recorded
   and join an open incident, but a quiet topic or a broken feed never pages on its own.
2. An open incident → update it: kinds grow, the peak rises, and severity can only get worse
   (lower number) while it is open. Never a second incident for the topic.
3. No new signal for `auto_resolve_minutes` → resolve.
4. Acknowledging is allowed only from triggered (or snoozed); doing it again changes nothing.
5. A crisis within `reopen_minutes` of its incident's resolution reopens that incident instead of
   opening a new one (`should_reopen`): flapping is one incident.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from worker.detection.core import WATCH_KINDS


class IncidentState(enum.StrEnum):
    """An incident's state, stored as its value in `incidents.state`."""

    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"


TRIGGERED = IncidentState.TRIGGERED
ACKNOWLEDGED = IncidentState.ACKNOWLEDGED
SNOOZED = IncidentState.SNOOZED
RESOLVED = IncidentState.RESOLVED
OPEN_STATES = (TRIGGERED, ACKNOWLEDGED, SNOOZED)


@dataclass(frozen=True)
class SignalFact:
    kind: str
    severity: int
    observed: float
    at: datetime


@dataclass(frozen=True)
class IncidentFacts:
    state: str
    severity: int
    kinds: tuple[str, ...]
    peak: float
    last_signal_at: datetime


@dataclass(frozen=True)
class Decision:
    action: str  # "open" | "update" | "none"
    severity: int
    kinds: tuple[str, ...]
    peak: float
    last_signal_at: datetime | None
    worsened: bool = False


def decide(current: IncidentFacts | None, signals: Sequence[SignalFact]) -> Decision:
    """Steps 1 and 2: what new signals do to the topic's incident."""
    if not signals:
        if current is None:
            return Decision("none", 4, (), 0.0, None)
        return Decision(
            "none", current.severity, current.kinds, current.peak, current.last_signal_at
        )
    kinds = tuple(sorted({s.kind for s in signals}))
    last = max(s.at for s in signals)
    if current is None or current.state == RESOLVED:
        crisis = [s for s in signals if s.kind not in WATCH_KINDS]
        if not crisis:
            return decide(current, [])
        severity = min(s.severity for s in crisis)
        return Decision("open", severity, kinds, max(s.observed for s in crisis), last)
    worst = min(s.severity for s in signals)
    peak = max(s.observed for s in signals)
    severity = min(current.severity, worst)
    return Decision(
        "update",
        severity,
        tuple(sorted(set(current.kinds) | set(kinds))),
        max(current.peak, peak),
        max(current.last_signal_at, last),
        worsened=severity < current.severity,
    )


def should_auto_resolve(current: IncidentFacts, now: datetime, quiet_minutes: float) -> bool:
    """Step 3: quiet long enough since the last signal (0 disables auto-resolution)."""
    if current.state == RESOLVED or quiet_minutes <= 0:
        return False
    return now - current.last_signal_at >= timedelta(minutes=quiet_minutes)


def should_reopen(resolved_at: datetime | None, now: datetime, reopen_minutes: float) -> bool:
    """Step 5: resolved recently enough that a new crisis is the same one coming back."""
    if resolved_at is None or reopen_minutes <= 0:
        return False
    return timedelta(0) <= now - resolved_at < timedelta(minutes=reopen_minutes)


def can_acknowledge(state: str) -> bool:
    """Step 4."""
    return state in (TRIGGERED, SNOOZED)
