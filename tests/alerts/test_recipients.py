"""Quiet hours and routing over plain data (no database): when a page may go, and where."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.escalation import Target
from alerts.recipients import plan, quiet_until
from worker.config import parse_config
from worker.oncall_config import Availability, QuietHours

ZONES = ["Europe/Paris", "America/New_York", "Asia/Kolkata", "UTC"]
times = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
instants = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)).map(
    lambda d: d.replace(tzinfo=UTC)
)


def inside(q: QuietHours, tz: str, at: datetime) -> bool:
    t = at.astimezone(ZoneInfo(tz)).time().replace(tzinfo=None)
    return q.start <= t < q.end if q.start < q.end else (t >= q.start or t < q.end)


@settings(max_examples=300, deadline=None)
@given(
    start=times,
    end=times,
    tz=st.sampled_from(ZONES),
    now=instants,
    severity=st.integers(1, 4),
    bypass=st.integers(1, 4),
)
def test_a_page_waits_exactly_until_quiet_hours_end_unless_severe_enough(
    start: time, end: time, tz: str, now: datetime, severity: int, bypass: int
) -> None:
    if start == end:
        return
    q = QuietHours(start, end)
    until = quiet_until(Availability(tz, q, bypass), severity, now)
    if severity <= bypass or not inside(q, tz, now):
        assert until is None
        return
    assert until is not None and now < until <= now + timedelta(hours=25)
    assert not inside(q, tz, until)  # it goes when quiet hours are over …
    assert inside(q, tz, until - timedelta(minutes=1))  # … and not a minute later


def test_quiet_hours_across_midnight_in_new_york() -> None:
    dave = Availability("America/New_York", QuietHours(time(22), time(7)), bypass=1)
    night = datetime(2026, 9, 2, 3, tzinfo=UTC)  # 23:00 EDT on 1 Sep
    assert quiet_until(dave, 3, night) == datetime(2026, 9, 2, 11, tzinfo=UTC)  # 07:00 EDT
    assert quiet_until(dave, 1, night) is None
    assert quiet_until(dave, 3, datetime(2026, 9, 2, 12, tzinfo=UTC)) is None  # 08:00 EDT


def test_quiet_hours_ending_inside_the_spring_forward_gap_end_when_the_clocks_jump() -> None:
    """New York, Sun 8 Mar 2026: 02:00 EST jumps to 03:00 EDT. Quiet until 02:30 means until
    the jump (07:00 UTC), not 03:30 EDT."""
    q = Availability("America/New_York", QuietHours(time(22), time(2, 30)), bypass=1)
    assert quiet_until(q, 3, datetime(2026, 3, 8, 5, tzinfo=UTC)) == datetime(
        2026, 3, 8, 7, tzinfo=UTC
    )


def test_a_person_without_address_falls_back_to_the_next_contact_method() -> None:
    config = parse_config(
        """
[people.erin]
email = "erin@example.com"
[people.finn]
name = "Finn"
[channels.hook]
type = "webhook"
url = "http://127.0.0.1:9/hook"
[channels.mail]
type = "smtp"
host = "127.0.0.1"
from = "tocsin@example.com"
"""
    )
    now = datetime(2026, 9, 2, 12, tzinfo=UTC)
    targets = [Target("erin", ("mail", "hook"), "on-call"), Target("finn", ("mail",), "on-call")]
    result = plan(config, targets, 3, now, step=0)
    assert [(p.person.id, p.channel, p.address) for p in result.pages] == [
        ("erin", "mail", "erin@example.com"),
        ("erin", "hook", "http://127.0.0.1:9/hook"),
        ("finn", "console", "finn"),
    ]
    assert result.problems == (
        "step 0: finn has no address for channel 'mail' and no other contact method "
        "(paged on the console)",
    )


SHARED = """
[people.ann]
email = "ann@example.com"
[people.bob]
email = "bob@example.com"
timezone = "UTC"
quiet_hours = "10:00-14:00"
quiet_bypass = 1
[people.cy]
email = "cy@example.com"
[channels.pd]
type = "pagerduty"
routing_key_env = "PD_KEY"
[channels.hook]
type = "webhook"
url = "http://127.0.0.1:9/hook"
"""


def test_a_shared_destination_gets_one_page_per_step_however_many_people_it_stands_for() -> None:
    """Three people on a PagerDuty step are one trigger (the service pages its own on-call); a
    webhook carries the recipient, so it still gets one page per person."""
    config = parse_config(SHARED)
    now = datetime(2026, 9, 2, 16, tzinfo=UTC)
    team = ("ann", "bob", "cy")
    result = plan(config, [Target(p, ("pd", "hook"), "on-call") for p in team], 3, now, step=0)
    by_channel = [(p.channel, p.person.id) for p in result.pages]
    assert [who for ch, who in by_channel if ch == "pd"] == ["ann"]
    assert [who for ch, who in by_channel if ch == "hook"] == list(team)
    # The leadership step of a severe first firing is another step: PagerDuty hears of it too.
    both = [Target("ann", ("pd",), "on-call", 0), Target("cy", ("pd",), "leadership", 1)]
    assert [(p.person.id, p.for_step) for p in plan(config, both, 1, now, step=0).pages] == [
        ("ann", 0),
        ("cy", 1),
    ]


def test_a_shared_page_goes_as_soon_as_one_of_its_people_may_be_paged() -> None:
    """Bob is in quiet hours, Cy is not: the one PagerDuty page goes now, not when Bob wakes."""
    config = parse_config(SHARED)
    now = datetime(2026, 9, 2, 11, tzinfo=UTC)  # inside Bob's 10:00-14:00
    targets = [Target(p, ("pd",), "on-call") for p in ("bob", "cy")]
    pages = plan(config, targets, 3, now, step=0).pages
    assert [(p.person.id, p.deliver_at) for p in pages] == [("cy", now)]
    alone = plan(config, targets[:1], 3, now, step=0).pages
    assert [(p.person.id, p.deliver_at) for p in alone] == [
        ("bob", datetime(2026, 9, 2, 14, tzinfo=UTC))
    ]
