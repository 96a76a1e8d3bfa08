"""Schedules: who is on call at any instant, handoffs in local time across daylight saving,
overrides inside their window only, and the `[schedules.*]` configuration's errors."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.schedules import on_call, rotation_on_call, shifts
from worker.config import ConfigError, parse_config
from worker.oncall_config import Schedule

PEOPLE = """
[people.alice]
email = "alice@example.com"
[people.bob]
email = "bob@example.com"
[people.carol]
email = "carol@example.com"
[people.dave]
email = "dave@example.com"
"""

PRIMARY = (
    PEOPLE
    + """
[schedules.primary]
timezone = "Europe/Paris"
rotation = "weekly"
handoff = "Mon 09:00"
start = "2026-03-02"
members = ["alice", "bob", "carol"]
[[schedules.primary.overrides]]
who = "dave"
start = "2026-03-28T18:00"
end = "2026-03-30T09:00"
"""
)


def schedule(text: str, name: str = "primary") -> Schedule:
    return parse_config(text).oncall.schedules[name]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


instants = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31)).map(
    lambda d: d.replace(tzinfo=UTC)
)


def rotation(tz: str, kind: str, handoff: str, members: int = 3, start: str = "2026-03-02") -> str:
    names = '", "'.join(["alice", "bob", "carol", "dave"][:members])
    return (
        PEOPLE
        + f"""
[schedules.s]
timezone = "{tz}"
rotation = "{kind}"
handoff = "{handoff}"
start = "{start}"
members = ["{names}"]
"""
    )


SCHEDULES = [
    schedule(PRIMARY),
    schedule(rotation("America/New_York", "daily", "02:30"), "s"),
    schedule(rotation("Europe/Paris", "3d", "23:45", members=2), "s"),
    schedule(rotation("UTC", "weekly", "Sun 00:00", members=1), "s"),
]


@settings(max_examples=150, deadline=None)
@given(which=st.sampled_from(range(len(SCHEDULES))), a=instants, hours=st.integers(1, 24 * 40))
def test_every_instant_has_exactly_one_person_on_call(which: int, a: datetime, hours: int) -> None:
    """The shifts over any window touch end to end (no gap, no overlap), and at every instant
    the person on call is the one of the shift holding it."""
    s = SCHEDULES[which]
    b = a + timedelta(hours=hours)
    cover = shifts(s, a, b)
    assert cover[0].start == a and cover[-1].end == b
    for left, right in itertools.pairwise(cover):
        assert left.end == right.start and left.start < left.end
        assert left.who != right.who or (len(s.members) == 1 and not s.overrides)
    for shift in cover:
        assert on_call(s, shift.start) == shift.who
        assert on_call(s, shift.end - timedelta(microseconds=1)) == shift.who
        assert shift.who in s.members or shift.who in {o.who for o in s.overrides}


@settings(max_examples=200, deadline=None)
@given(at=instants)
def test_an_override_wins_inside_its_window_only(at: datetime) -> None:
    s = SCHEDULES[0]
    (o,) = s.overrides
    if o.start <= at < o.end:
        assert on_call(s, at) == "dave"
    else:
        assert on_call(s, at) == rotation_on_call(s, at)


def test_the_override_window_is_local_time_in_the_schedule_zone() -> None:
    s = SCHEDULES[0]
    # 2026-03-28T18:00 in Paris is 17:00 UTC (CET); the end 2026-03-30T09:00 is 07:00 UTC (CEST).
    # Weeks from Mon 2 Mar: alice, bob, carol, alice (23 Mar), bob (30 Mar).
    assert on_call(s, utc(2026, 3, 28, 16, 59)) == "alice"
    assert on_call(s, utc(2026, 3, 28, 17, 0)) == "dave"
    assert on_call(s, utc(2026, 3, 30, 6, 59)) == "dave"
    assert on_call(s, utc(2026, 3, 30, 7, 0)) == "bob"  # the handoff at the override's end


def test_weekly_handoff_stays_at_nine_local_across_the_paris_spring_change() -> None:
    """Paris moves to summer time on Sun 29 Mar 2026: the Mon 23 Mar shift lasts 167 hours and
    the next handoff is still at 09:00 local (07:00 UTC, not 08:00)."""
    s = schedule(rotation("Europe/Paris", "weekly", "Mon 09:00"), "s")
    assert on_call(s, utc(2026, 3, 23, 7, 59)) == "carol"  # 08:59 CET, week 3 not yet
    assert on_call(s, utc(2026, 3, 23, 8, 0)) == "alice"  # 09:00 CET
    assert on_call(s, utc(2026, 3, 30, 6, 59)) == "alice"  # 08:59 CEST
    assert on_call(s, utc(2026, 3, 30, 7, 0)) == "bob"  # 09:00 CEST
    (shift,) = [x for x in shifts(s, utc(2026, 3, 20), utc(2026, 4, 2)) if x.who == "alice"]
    assert shift.end - shift.start == timedelta(hours=167)


def test_weekly_handoff_across_the_paris_autumn_change_lasts_169_hours() -> None:
    s = schedule(rotation("Europe/Paris", "weekly", "Mon 09:00"), "s")
    # Sun 25 Oct 2026 Paris returns to CET: 19 Oct 09:00 CEST = 07:00 UTC, 26 Oct 09:00 CET = 08:00.
    cover = shifts(s, utc(2026, 10, 19, 12), utc(2026, 10, 27))
    assert cover[0].end == utc(2026, 10, 26, 8, 0)
    assert cover[0].end - utc(2026, 10, 19, 7, 0) == timedelta(hours=169)


def test_daily_handoff_in_new_york_inside_the_spring_gap_and_the_autumn_repeat() -> None:
    """A 02:30 handoff: on 8 Mar 2026 New York jumps from 02:00 to 03:00, on 1 Nov 2026 it
    repeats 01:00–02:00. The handoff still happens once a day, never twice."""
    s = schedule(rotation("America/New_York", "daily", "02:30", start="2026-03-01"), "s")
    day_before = shifts(s, utc(2026, 3, 6, 12), utc(2026, 3, 10, 12))
    # 7 Mar 02:30 EST = 07:30 UTC; 8 Mar: 02:30 does not exist, read as EST → 07:30 UTC (03:30 EDT);
    # 9 Mar 02:30 EDT = 06:30 UTC.
    assert [x.start for x in day_before[1:]] == [
        utc(2026, 3, 7, 7, 30),
        utc(2026, 3, 8, 7, 30),
        utc(2026, 3, 9, 6, 30),
        utc(2026, 3, 10, 6, 30),
    ]
    autumn = shifts(s, utc(2026, 10, 30, 12), utc(2026, 11, 3, 12))
    starts = [x.start for x in autumn[1:]]
    assert starts == [
        utc(2026, 10, 31, 6, 30),  # 02:30 EDT
        utc(2026, 11, 1, 7, 30),  # 02:30 EST, after the repeated hour
        utc(2026, 11, 2, 7, 30),
        utc(2026, 11, 3, 7, 30),
    ]
    handoffs = autumn[1:]
    assert all(b.start - a.start >= timedelta(hours=24) for a, b in itertools.pairwise(handoffs))


def test_weekly_rotation_in_new_york_hands_off_at_local_nine() -> None:
    s = schedule(rotation("America/New_York", "weekly", "Mon 09:00"), "s")
    # 2 Mar 2026 (EST, UTC-5) and 9 Mar 2026 (EDT, UTC-4).
    assert on_call(s, utc(2026, 3, 2, 13, 59)) == "carol"  # before the first handoff: runs back
    assert on_call(s, utc(2026, 3, 2, 14, 0)) == "alice"
    assert on_call(s, utc(2026, 3, 9, 12, 59)) == "alice"
    assert on_call(s, utc(2026, 3, 9, 13, 0)) == "bob"


def test_a_rotation_of_one_member_is_always_that_member() -> None:
    s = schedule(rotation("Europe/Paris", "3d", "09:00", members=1), "s")
    cover = shifts(s, utc(2026, 1, 1), utc(2026, 12, 31))
    assert [(x.start, x.end, x.who) for x in cover] == [
        (utc(2026, 1, 1), utc(2026, 12, 31), "alice")
    ]


def test_weekly_start_is_the_first_handoff_day_on_or_after_it() -> None:
    s = schedule(rotation("UTC", "weekly", "Wed 10:00", start="2026-03-02"), "s")
    assert on_call(s, utc(2026, 3, 4, 10, 0)) == "alice"  # Wed 4 Mar, first handoff
    assert on_call(s, utc(2026, 3, 4, 9, 59)) == "carol"


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        ('rotation = "fortnightly"', 'schedules.s.rotation: must be "daily", "weekly"'),
        ('handoff = "Monday 9am"', "schedules.s.handoff: weekly handoff is"),
        ('timezone = "Mars/Olympus"', "schedules.s.timezone: unknown time zone 'Mars/Olympus'"),
        ('members = ["alice", "zed"]', "schedules.s.members: unknown person 'zed'"),
        ("shift = 3", "schedules.s.shift: unknown key"),
    ],
)
def test_bad_schedules_fail_with_file_line_and_key(snippet: str, message: str) -> None:
    lines = rotation("UTC", "weekly", "Mon 09:00").splitlines()
    key = snippet.split(" ")[0]
    lines = [ln for ln in lines if not ln.startswith(f"{key} ")]
    idx = lines.index("[schedules.s]")
    lines.insert(idx + 1, snippet)
    with pytest.raises(ConfigError) as err:
        parse_config("\n".join(lines))
    assert message in str(err.value)
    assert str(err.value).startswith(f"tocsin.toml:{idx + 2}:")


def test_policy_steps_may_notify_a_schedule_but_not_an_unknown_one() -> None:
    text = (
        PRIMARY
        + """
[policies.default]
steps = [{ after_minutes = 0, notify = ["schedule:primary"] }]
"""
    )
    assert parse_config(text).policies["default"].steps[0].notify == ("schedule:primary",)
    with pytest.raises(ConfigError, match=r"unknown person, group or schedule 'schedule:second'"):
        parse_config(text.replace("schedule:primary", "schedule:second"))


def test_quiet_hours_keys_are_validated() -> None:
    ok = parse_config(
        PEOPLE.replace(
            'email = "dave@example.com"',
            'email = "dave@example.com"\ntimezone = "America/New_York"\n'
            'quiet_hours = "22:00-07:00"\nquiet_bypass = "SEV2"',
        )
    )
    dave = ok.oncall.for_person("dave", "UTC")
    assert (dave.timezone, dave.bypass, str(dave.quiet)) == (
        "America/New_York",
        2,
        "QuietHours(start=datetime.time(22, 0), end=datetime.time(7, 0))",
    )
    assert ok.oncall.for_person("alice", "Europe/Paris").quiet is None
    with pytest.raises(ConfigError, match=r"people\.dave\.quiet_hours: expected"):
        parse_config(PEOPLE + 'quiet_hours = "late"\n')
    with pytest.raises(ConfigError, match=r"people\.dave\.quiet_bypass: must be SEV1\.\.SEV4"):
        parse_config(PEOPLE + 'quiet_bypass = "SEV9"\n')
