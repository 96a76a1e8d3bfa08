"""The one table of jobs: every row resolves, Celery and the beat are made from it, and the
simulated clock runs it the way the beat would (intervals, local times across DST)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from worker.config import default_config
from worker.jobs import JOBS, Job, next_fire, parse_cron, simulate

CALLS: list[tuple[str, datetime]] = []


def record_fast(ctx: Any, now: datetime) -> None:
    CALLS.append(("fast", now))


def record_weekly(ctx: Any, now: datetime) -> None:
    CALLS.append(("weekly", now))


def test_every_row_resolves_and_makes_a_celery_task_and_beat_entry() -> None:
    """No dangling import path; a Celery task per row; a beat entry per scheduled row."""
    import worker.tasks  # noqa: F401  (registers the Celery tasks)
    from worker.celery_app import app, beat_schedule

    for job in JOBS:
        assert callable(job.function), job.name
        assert job.name in app.tasks, job.name
        assert job.queue in ("poll", "ingest", "detect", "alerts", "notify", "reports")
    scheduled = {j.name for j in JOBS if j.every or j.cron}
    assert set(beat_schedule()) == scheduled
    assert {"sources.poll_due", "detect.evaluate_due", "alerts.escalation.tick"} <= scheduled


def test_local_times_follow_the_team_zone_across_daylight_saving() -> None:
    """'Mon 09:00' in Paris is 08:00 UTC in winter and 07:00 UTC after the spring change."""
    before = datetime(2026, 3, 21, tzinfo=UTC)  # Saturday before the last winter Monday
    first = next_fire("Mon 09:00", before, "Europe/Paris")
    second = next_fire("Mon 09:00", first, "Europe/Paris")
    assert first == datetime(2026, 3, 23, 8, 0, tzinfo=UTC)
    assert second == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)  # CEST since 29 March
    assert next_fire("1 09:00", second, "UTC") == datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
    assert next_fire("18:30", second, "America/New_York") == datetime(
        2026, 3, 30, 22, 30, tzinfo=UTC
    )


@pytest.mark.parametrize("bad", ["Monday 9", "25:00", "Mon 09:61", "31 09:00", "Fun 09:00", ""])
def test_bad_local_times_are_refused_with_the_forms_accepted(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_cron(bad)


def test_simulated_clock_runs_intervals_and_local_times_like_the_beat() -> None:
    """A 10-minute job runs every other 5-minute tick; a weekly one once per week, at the first
    tick at or after its local time, never at the start of the clock."""

    class Direct:
        def __init__(self) -> None:
            self.queued: list[str] = []

        def send(self, name: str, args: Any, now: datetime) -> None:
            self.queued.append(name)
            {"fast": record_fast, "weekly": record_weekly}[name](None, now)

        def drain(self) -> None:
            pass

    table = (
        Job("fast", "tests.core.test_jobs:record_fast", every=timedelta(minutes=10)),
        Job("weekly", "tests.core.test_jobs:record_weekly", cron="Mon 09:00"),
    )
    CALLS.clear()
    start = datetime(2026, 3, 22, 23, 0, tzinfo=UTC)  # Sunday night
    ticks = [start + timedelta(minutes=5 * k) for k in range(12 * 24 * 8)]  # eight days
    config = default_config([])
    runs = simulate(config, Direct(), ticks, jobs=table)
    weekly = [t for name, t in CALLS if name == "weekly"]
    assert weekly == [
        datetime(2026, 3, 23, 9, 0, tzinfo=UTC),
        datetime(2026, 3, 30, 9, 0, tzinfo=UTC),
    ]
    assert runs["fast"] == len(ticks) // 2


def test_local_time_schedule_survives_the_beat_shelve_and_fires_at_its_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Beat pickles its schedule; a LocalTime entry comes back as the same job's schedule and is
    due once its local time has passed since the last run (and not before)."""
    import pickle

    from worker import jobs
    from worker.celery_app import LocalTime

    weekly = Job("reports.weekly", "tests.core.test_jobs:record_weekly", cron="Mon 09:00")
    monkeypatch.setitem(jobs.BY_NAME, "reports.weekly", weekly)  # type: ignore[index]
    entry = pickle.loads(pickle.dumps(LocalTime("reports.weekly")))  # noqa: S301 (our own bytes)
    assert isinstance(entry, LocalTime) and entry.job_name == "reports.weekly"

    class Runtime:
        config = default_config([])

    monkeypatch.setattr("worker.runtime.get_runtime", lambda: Runtime())
    now = datetime(2026, 3, 23, 9, 5, tzinfo=UTC)
    monkeypatch.setattr("worker.runtime.utcnow", lambda: now)
    due, _ = entry.is_due(datetime(2026, 3, 20, 12, 0, tzinfo=UTC))
    assert due
    not_yet, wait = entry.is_due(datetime(2026, 3, 23, 9, 1, tzinfo=UTC))
    assert not not_yet and wait > 0
