"""Who is on call: rotations with local-time handoffs, and overrides (plain functions of `at`).

A schedule hands over at its local handoff time (e.g. Mondays 09:00 in Europe/Paris) every
`period_days` local days, starting with `members[0]` at the first handoff. Handoffs follow the
wall clock of the schedule's zone, so a weekly shift across a daylight-saving change lasts 167
or 169 hours, never starting at 08:00 or 10:00. Before the first handoff the rotation runs
backwards, so every instant has exactly one person on call. An override puts `who` on call
inside its window only; when overrides overlap, the one written last wins.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from worker.config import Config
from worker.oncall_config import Schedule


def _handoff_instant(s: Schedule, day: date) -> datetime:
    """The handoff of the local date `day`, in UTC. A handoff inside a spring-forward gap happens
    at the same wall time read in the offset before the change (02:30 → 03:30 CEST); inside a
    fall-back repeat, at the first of the two instants."""
    return datetime.combine(day, s.handoff, tzinfo=ZoneInfo(s.timezone)).astimezone(UTC)


def _rotation_index(s: Schedule, at: datetime) -> int:
    """How many handoffs have happened since the first one, at `at` (negative before it)."""
    day = at.astimezone(ZoneInfo(s.timezone)).date()
    if at < _handoff_instant(s, day):
        day -= timedelta(days=1)
    return (day - s.first).days // s.period_days


def rotation_on_call(s: Schedule, at: datetime) -> str:
    """Who the rotation alone puts on call at `at` (overrides ignored)."""
    return s.members[_rotation_index(s, at) % len(s.members)]


def on_call(s: Schedule, at: datetime) -> str:
    """The one person on call at `at`: the last override covering `at`, else the rotation's."""
    for o in reversed(s.overrides):
        if o.start <= at < o.end:
            return o.who
    return rotation_on_call(s, at)


def next_handoff(s: Schedule, at: datetime) -> datetime:
    """The first rotation handoff strictly after `at`."""
    k = _rotation_index(s, at) + 1
    return _handoff_instant(s, s.first + timedelta(days=k * s.period_days))


@dataclass(frozen=True)
class Shift:
    start: datetime
    end: datetime
    who: str


def shifts(s: Schedule, start: datetime, end: datetime) -> list[Shift]:
    """The on-call shifts covering [start, end), in order, overrides applied: consecutive shifts
    touch (no gap, no overlap) and neighbours have different people."""
    cuts = {start, end}
    t = start
    while True:
        t = next_handoff(s, t)
        if t >= end:
            break
        cuts.add(t)
    for o in s.overrides:
        for edge in (o.start, o.end):
            if start < edge < end:
                cuts.add(edge)
    points = sorted(cuts)
    out: list[Shift] = []
    for a, b in itertools.pairwise(points):
        who = on_call(s, a)
        if out and out[-1].who == who:
            out[-1] = Shift(out[-1].start, b, who)
        else:
            out.append(Shift(a, b, who))
    return out


def on_call_now(config: Config, at: datetime) -> dict[str, str]:
    """`{schedule name: person id}` for every schedule of the config, at `at`."""
    return {name: on_call(s, at) for name, s in sorted(config.oncall.schedules.items())}


__all__ = ["Shift", "next_handoff", "on_call", "on_call_now", "rotation_on_call", "shifts"]
