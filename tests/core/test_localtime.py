"""Times people read are shown in the configured zone, with its abbreviation."""

from __future__ import annotations

from datetime import UTC, datetime

from worker.localtime import show


def test_show_uses_the_zone_and_names_it_winter_and_summer() -> None:
    winter = datetime(2026, 1, 6, 13, 30, tzinfo=UTC)
    summer = datetime(2026, 7, 7, 13, 30, tzinfo=UTC)
    assert show(winter) == "Tue 06 Jan 13:30 UTC"
    assert show(winter, "Europe/Paris") == "Tue 06 Jan 14:30 CET"
    assert show(summer, "Europe/Paris") == "Tue 07 Jul 15:30 CEST"
    assert show(summer, "America/New_York", "%A at %H:%M") == "Tuesday at 09:30 EDT"
    # Across midnight the local day is the one shown.
    assert show(datetime(2026, 7, 7, 23, 0, tzinfo=UTC), "Asia/Tokyo") == "Wed 08 Jul 08:00 JST"
