"""Times shown to people, in the team's time zone (`[tocsin] timezone` in tocsin.toml).

Everything stored and computed stays in UTC; only what a person reads (signal explanations,
briefing packets, e-mails, the acknowledge page, backtest and demo output) is shown in the
configured zone, with its abbreviation, so "14:15 CET" is never mistaken for UTC.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo


@lru_cache(maxsize=32)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local(at: datetime, tz: str = "UTC") -> datetime:
    """`at` (aware) in the zone `tz`."""
    return at.astimezone(zone(tz))


def show(at: datetime, tz: str = "UTC", fmt: str = "%a %d %b %H:%M") -> str:
    """`at` in the zone `tz` with the zone's abbreviation: 'Fri 06 Nov 15:15 CET'."""
    t = local(at, tz)
    return f"{t.strftime(fmt)} {t.tzname()}"
