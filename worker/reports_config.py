"""The `[reports]` section of tocsin.toml: when the weekly summary and the monthly report go out,
to whom, on which channels, and the team's language.

```toml
[reports]
weekly = "Mon 09:00"      # weekday and time in the team's zone ([tocsin] timezone); "off" to stop
monthly = "1 09:00"       # day of month (1-28) and time; "off" to stop
recipients = "leadership" # a group (or a person id)
channels = ["email"]      # default: the channels of the default policy's last step
language = "en"           # the team's language: en or fr (holding statements come in it first)
```
Parsed here (worker.config only calls `parse_reports`), so errors keep the one-line
`tocsin.toml:LINE: reports.weekly: what is wrong` form.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKLY = re.compile(r"^\s*([A-Za-z]{3})[a-z]*\s+(\d{1,2}):(\d{2})\s*$")
_MONTHLY = re.compile(r"^\s*(\d{1,2})\s+(\d{1,2}):(\d{2})\s*$")
ALLOWED = {"weekly", "monthly", "recipients", "channels", "language"}


@dataclass(frozen=True)
class When:
    """A time in the team's zone: `day` is 0-6 (Monday first) for weekly, 1-28 for monthly."""

    day: int
    hour: int
    minute: int


@dataclass(frozen=True)
class ReportsConfig:
    weekly: When | None = When(0, 9, 0)
    monthly: When | None = When(1, 9, 0)
    recipients: str = "leadership"
    channels: tuple[str, ...] = ()
    language: str = "en"

    def weekly_cron(self) -> str | None:
        """crontab fields (minute hour dom month dow, Sunday = 0) in the team's zone."""
        if self.weekly is None:
            return None
        return f"{self.weekly.minute} {self.weekly.hour} * * {(self.weekly.day + 1) % 7}"

    def weekly_at(self) -> str | None:
        """The weekly time as the job table writes it ("Mon 09:00"), or None (no weekly)."""
        if self.weekly is None:
            return None
        day = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[self.weekly.day]
        return f"{day} {self.weekly.hour:02d}:{self.weekly.minute:02d}"

    def monthly_at(self) -> str | None:
        """The monthly time as the job table writes it ("1 09:00"), or None (no monthly)."""
        if self.monthly is None:
            return None
        return f"{self.monthly.day} {self.monthly.hour:02d}:{self.monthly.minute:02d}"

    def monthly_cron(self) -> str | None:
        if self.monthly is None:
            return None
        return f"{self.monthly.minute} {self.monthly.hour} {self.monthly.day} * *"


#: fail(key, message, *needles) -> an exception naming the file and line (worker.config._Ctx.fail).
Fail = Callable[..., Exception]


def _time(fail: Fail, key: str, h: str, m: str) -> tuple[int, int]:
    hour, minute = int(h), int(m)
    if hour > 23 or minute > 59:
        raise fail(f"reports.{key}", f"not a time of day: {h}:{m}", "reports", key)
    return hour, minute


def parse_reports(raw: Any, fail: Fail) -> ReportsConfig:
    if raw is None:
        return ReportsConfig()
    if not isinstance(raw, Mapping):
        raise fail("reports", f"must be a table, got {type(raw).__name__}", "reports")
    for key in raw:
        if key not in ALLOWED:
            raise fail(
                f"reports.{key}",
                f"unknown key (expected one of: {', '.join(sorted(ALLOWED))})",
                "reports",
                key,
            )
    weekly: When | None = ReportsConfig.weekly
    if "weekly" in raw:
        value = raw["weekly"]
        match = _WEEKLY.match(value) if isinstance(value, str) else None
        if value == "off":
            weekly = None
        elif not match or match.group(1).lower() not in WEEKDAYS:
            raise fail(
                "reports.weekly",
                f'must be a weekday and a time such as "Mon 09:00", or "off" (got {value!r})',
                "reports",
                "weekly",
            )
        else:
            weekly = When(
                WEEKDAYS.index(match.group(1).lower()), *_time(fail, "weekly", *match.groups()[1:])
            )
    monthly: When | None = ReportsConfig.monthly
    if "monthly" in raw:
        value = raw["monthly"]
        match = _MONTHLY.match(value) if isinstance(value, str) else None
        if value == "off":
            monthly = None
        elif not match or not 1 <= int(match.group(1)) <= 28:
            raise fail(
                "reports.monthly",
                f'must be a day of the month (1-28) and a time such as "1 09:00", or "off" (got {value!r})',
                "reports",
                "monthly",
            )
        else:
            monthly = When(int(match.group(1)), *_time(fail, "monthly", *match.groups()[1:]))
    recipients = raw.get("recipients", "leadership")
    if not isinstance(recipients, str) or not recipients:
        raise fail("reports.recipients", "must be a group or person id", "reports", "recipients")
    channels = raw.get("channels", [])
    if isinstance(channels, str):
        channels = [channels]
    if not isinstance(channels, list) or not all(isinstance(c, str) and c for c in channels):
        raise fail(
            "reports.channels",
            f"must be a list of channel names, got {channels!r}",
            "reports",
            "channels",
        )
    language = raw.get("language", "en")
    if language not in ("en", "fr"):
        raise fail(
            "reports.language", f"must be en or fr (got {language!r})", "reports", "language"
        )
    return ReportsConfig(weekly, monthly, recipients, tuple(channels), language)


def check_references(
    reports: ReportsConfig,
    people: Mapping[str, Any],
    groups: Mapping[str, Any],
    channels: Mapping[str, Any],
    fail: Fail,
    explicit: bool,
) -> None:
    """The recipients and channels must exist (the default group may be missing: then no one)."""
    if explicit and reports.recipients not in people and reports.recipients not in groups:
        raise fail(
            "reports.recipients",
            f"unknown person or group {reports.recipients!r}",
            "reports",
            "recipients",
        )
    for ch in reports.channels:
        if ch not in channels:
            raise fail(
                "reports.channels",
                f"unknown channel {ch!r} (define [channels.{ch}])",
                "reports",
                "channels",
            )
