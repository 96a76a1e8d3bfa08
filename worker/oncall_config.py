"""The on-call part of `tocsin.toml`: `[schedules.NAME]` and each person's quiet hours.

Parsed with pydantic models and turned into plain frozen data (`OnCall`) that the alerts side
reads (`alerts.schedules` works out who is on call; `alerts.recipients` applies quiet hours).
It lives in `worker/` only because `worker.config.load_config` must call it and `worker` never
imports `alerts`; nothing here knows about incidents.

```toml
[schedules.primary]
timezone = "Europe/Paris"      # default: [tocsin] timezone
rotation = "weekly"            # "daily", "weekly", or a number of days such as "3d"
handoff = "Mon 09:00"          # weekly: Mon..Sun + local time; daily / Nd: local time
start = "2026-03-02"           # local date of the first handoff, to members[0]
members = ["alice", "bob", "carol"]
[[schedules.primary.overrides]]
who = "dave"
start = "2026-03-28T18:00"     # local times in the schedule's zone
end = "2026-03-30T09:00"

[people.dave]
timezone = "America/New_York"  # default: [tocsin] timezone
quiet_hours = "22:00-07:00"    # pages below quiet_bypass wait until 07:00 local
quiet_bypass = "SEV1"          # this severity or worse pages at once (default SEV1)
```
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

#: The person keys this module owns (worker.config accepts them and hands them here).
PERSON_KEYS = ("timezone", "quiet_hours", "quiet_bypass")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class Override:
    """`who` is on call from `start` to `end` (aware datetimes; the end is excluded)."""

    who: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Schedule:
    name: str
    timezone: str
    period_days: int
    handoff: time
    #: The local date of the first handoff (to members[0]); for a weekly rotation, the first
    #: handoff weekday on or after the configured `start`.
    first: date
    members: tuple[str, ...]
    overrides: tuple[Override, ...] = ()


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time


@dataclass(frozen=True)
class Availability:
    """When a person may be paged: their zone, quiet hours, and the severity that bypasses them."""

    timezone: str
    quiet: QuietHours | None = None
    #: A page at this severity or worse (1 = SEV1) is sent even inside quiet hours.
    bypass: int = 1


@dataclass(frozen=True)
class OnCall:
    schedules: Mapping[str, Schedule] = field(default_factory=dict)
    #: Per person id; a person without any of these keys gets the team's zone and no quiet hours.
    availability: Mapping[str, Availability] = field(default_factory=dict)

    def for_person(self, person_id: str, default_tz: str) -> Availability:
        return self.availability.get(person_id) or Availability(default_tz)


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except Exception:
        raise ValueError(f"unknown time zone {value!r}") from None
    return value


def _hhmm(value: str) -> time:
    m = _HHMM.match(value.strip())
    if not m:
        raise ValueError(f"expected a local time HH:MM, got {value!r}")
    return time(int(m.group(1)), int(m.group(2)))


def _severity(value: Any) -> int:
    if isinstance(value, str) and re.fullmatch(r"(?i)sev[1-4]", value.strip()):
        return int(value.strip()[-1])
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 4:
        return value
    raise ValueError(f"must be SEV1..SEV4, got {value!r}")


class _OverrideModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    who: str
    start: str
    end: str


class _ScheduleModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    timezone: str | None = None
    rotation: str = "weekly"
    handoff: str
    start: date
    members: list[str]
    overrides: list[_OverrideModel] = []

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        return None if v is None else _zone(v)

    @field_validator("rotation")
    @classmethod
    def _rotation(cls, v: str) -> str:
        if v not in ("daily", "weekly") and not re.fullmatch(r"[1-9]\d{0,2}d", v):
            raise ValueError(f'must be "daily", "weekly" or a number of days like "3d", got {v!r}')
        return v

    @field_validator("members")
    @classmethod
    def _members(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("needs at least one member")
        return v


class _PersonModel(BaseModel):
    model_config = ConfigDict(extra="ignore")  # the other person keys are worker.config's
    timezone: str | None = None
    quiet_hours: str | None = None
    quiet_bypass: int | str = 1

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        return None if v is None else _zone(v)

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, v: str | None) -> str | None:
        if v is None:
            return None
        a, sep, b = v.partition("-")
        if not sep:
            raise ValueError(f'expected "HH:MM-HH:MM" such as "22:00-07:00", got {v!r}')
        if _hhmm(a) == _hhmm(b):
            raise ValueError(f"start and end are the same time: {v!r}")
        return v

    @field_validator("quiet_bypass")
    @classmethod
    def _bypass(cls, v: int | str) -> int:
        return _severity(v)


#: fail(key_path, message, *needles) -> an exception to raise (worker.config's `_Ctx.fail`).
Fail = Callable[..., Exception]


def _first_error(exc: ValidationError, where: str) -> tuple[str, str, tuple[str, ...]]:
    err = exc.errors()[0]
    loc = [str(x) for x in err["loc"]]
    path = where
    for part in loc:
        path += f"[{part}]" if part.isdigit() else f".{part}"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    elif err["type"] == "missing":
        msg = "is required"
    return path, msg, tuple(p for p in loc if not p.isdigit())


def _local(day_time: str, tz: str) -> datetime:
    try:
        naive = datetime.fromisoformat(day_time)
    except ValueError:
        raise ValueError(
            f"expected a local time such as 2026-03-28T18:00, got {day_time!r}"
        ) from None
    if naive.tzinfo is not None:
        raise ValueError(
            f"write a local time without offset (the schedule's zone), got {day_time!r}"
        )
    return naive.replace(tzinfo=ZoneInfo(tz))


def _schedule(name: str, m: _ScheduleModel, default_tz: str) -> Schedule:
    tz = m.timezone or default_tz
    if m.rotation == "weekly":
        day, _, hhmm = m.handoff.partition(" ")
        if day not in WEEKDAYS:
            raise ValueError(f'weekly handoff is "Mon 09:00" (Mon..Sun + HH:MM), got {m.handoff!r}')
        handoff = _hhmm(hhmm)
        first = m.start + timedelta(days=(WEEKDAYS.index(day) - m.start.weekday()) % 7)
        period = 7
    else:
        handoff = _hhmm(m.handoff)
        first = m.start
        period = 1 if m.rotation == "daily" else int(m.rotation[:-1])
    return Schedule(
        name=name,
        timezone=tz,
        period_days=period,
        handoff=handoff,
        first=first,
        members=tuple(m.members),
        overrides=tuple(
            Override(o.who, _local(o.start, tz), _local(o.end, tz)) for o in m.overrides
        ),
    )


def parse_oncall(
    raw_schedules: Any,
    raw_people: Any,
    people: Mapping[str, Any],
    default_tz: str,
    fail: Fail,
) -> OnCall:
    """Validate `[schedules.*]` and the on-call keys of `[people.*]`; raise `fail(...)` on the
    first problem, naming the key path (e.g. `schedules.primary.handoff`)."""
    schedules: dict[str, Schedule] = {}
    if raw_schedules is not None and not isinstance(raw_schedules, dict):
        raise fail("schedules", "must be a table of schedules: write [schedules.NAME]", "schedules")
    for name, item in (raw_schedules or {}).items():
        where = f"schedules.{name}"
        if not isinstance(item, dict):
            raise fail(where, f"must be a table, got {type(item).__name__}", "schedules", name)
        try:
            model = _ScheduleModel.model_validate(item)
        except ValidationError as exc:
            path, msg, needles = _first_error(exc, where)
            raise fail(path, msg, "schedules", name, *needles) from None
        try:
            sched = _schedule(name, model, default_tz)
        except ValueError as exc:
            key = "overrides" if "local time" in str(exc) else "handoff"
            raise fail(f"{where}.{key}", str(exc), "schedules", name, key) from None
        for who in (*sched.members, *(o.who for o in sched.overrides)):
            if who not in people:
                raise fail(
                    f"{where}.members",
                    f"unknown person {who!r} (define [people.{who}])",
                    "schedules",
                    name,
                    who,
                )
        for j, o in enumerate(sched.overrides):
            if o.end <= o.start:
                raise fail(
                    f"{where}.overrides[{j}].end", "must be after start", "schedules", name, "end"
                )
        schedules[name] = sched
    availability: dict[str, Availability] = {}
    for pid, item in (raw_people or {}).items():
        if not isinstance(item, dict) or not any(k in item for k in PERSON_KEYS):
            continue
        try:
            pm = _PersonModel.model_validate(item)
        except ValidationError as exc:
            path, msg, needles = _first_error(exc, f"people.{pid}")
            raise fail(path, msg, "people", pid, *needles) from None
        quiet = None
        if pm.quiet_hours:
            a, _, b = pm.quiet_hours.partition("-")
            quiet = QuietHours(_hhmm(a), _hhmm(b))
        availability[pid] = Availability(pm.timezone or default_tz, quiet, int(pm.quiet_bypass))
    return OnCall(schedules, availability)


__all__ = [
    "PERSON_KEYS",
    "Availability",
    "OnCall",
    "Override",
    "QuietHours",
    "Schedule",
    "parse_oncall",
]
