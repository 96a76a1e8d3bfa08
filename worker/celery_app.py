"""The Celery application: queues, routes, beat schedule and reliability settings in one place.

Nothing connects at import time. `configure(settings)` points the app at a broker; the `tocsin`
entry points and the worker bootstrap call it. The tasks and the beat schedule are both made from
the one table of jobs (`worker/jobs.py`): `worker.tasks` (listed in `include`) registers a task
per row, and the rows with an interval or a cron time are the beat schedule. The alerts side's
job functions are named in the table by import path, so `worker` never imports `alerts` in code.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from celery import Celery
from celery.schedules import schedstate, schedule
from kombu import Queue

from worker.settings import Settings, load_settings

QUEUES = ("poll", "ingest", "detect", "alerts", "notify", "reports")

app = Celery("tocsin", include=["worker.tasks"])

#: Task name prefix → queue. Explicit names (`name="alerts.escalation.tick"`) keep routing stable.
ROUTES = {
    "sources.*": {"queue": "poll"},
    "ingest.*": {"queue": "ingest"},
    "detect.*": {"queue": "detect"},
    "alerts.*": {"queue": "alerts"},
    "notify.*": {"queue": "notify"},
    "reports.*": {"queue": "reports"},
}


class LocalTime(schedule):
    """A beat schedule at a local time of the team's zone ("Mon 09:00"), read from the config each
    time it is checked (so `[reports] weekly` can change without touching the beat)."""

    def __init__(self, job_name: str) -> None:
        self.job_name = job_name
        super().__init__(run_every=timedelta(minutes=1))

    def __reduce__(self) -> tuple[type[LocalTime], tuple[str]]:
        # Beat keeps its schedule in a shelve file: rebuild from the job's name, not run_every.
        return (self.__class__, (self.job_name,))

    def __repr__(self) -> str:
        return f"<LocalTime {self.job_name}>"

    def is_due(self, last_run_at: datetime) -> schedstate:
        from worker.jobs import BY_NAME, next_fire
        from worker.runtime import get_runtime, utcnow

        config = get_runtime().config
        spec = BY_NAME[self.job_name].cron_spec(config)
        if spec is None:
            return schedstate(False, 300.0)
        now = utcnow()
        last = last_run_at if last_run_at.tzinfo else last_run_at.replace(tzinfo=UTC)
        due = next_fire(spec, last, config.timezone)
        if due <= now:
            return schedstate(
                True, max(1.0, (next_fire(spec, now, config.timezone) - now).total_seconds())
            )
        return schedstate(False, min(300.0, max(1.0, (due - now).total_seconds())))


def beat_schedule(beat_seconds: float | None = None) -> dict[str, dict[str, object]]:
    """The beat schedule: every row of the job table with an interval or a local time.

    Short ticks: durable schedules are rows, and each tick claims what is due (STYLE.md habit 5).
    Tests and the demo may speed the interval jobs up with `beat_seconds`.
    """
    from worker.jobs import JOBS

    out: dict[str, dict[str, object]] = {}
    for job in JOBS:
        if job.every is not None:
            every = timedelta(seconds=beat_seconds) if beat_seconds is not None else job.every
            out[job.name] = {"task": job.name, "schedule": every}
        elif job.cron is not None:
            out[job.name] = {"task": job.name, "schedule": LocalTime(job.name)}
    return out


def _transport_options(broker_url: str) -> dict[str, object]:
    if broker_url.startswith(("redis://", "rediss://")):
        # Redis re-delivers an unacked task after the visibility timeout; our tasks are short and
        # idempotent, so an hour is a safe upper bound (no long ETAs are ever used: kombu#337).
        return {"visibility_timeout": 3600}
    # kombu's SQLAlchemy transport passes its options to create_engine(); it takes none of ours.
    return {}


def configure(settings: Settings | None = None, *, beat_seconds: float | None = None) -> Celery:
    """Point the app at the configured broker. Safe to call more than once."""
    settings = settings or load_settings()
    schedule = beat_schedule(beat_seconds)
    app.conf.update(
        broker_url=settings.broker_url,
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        result_backend=None,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_queues=[Queue(q) for q in QUEUES],
        task_default_queue="detect",
        task_routes=ROUTES,
        beat_schedule=schedule,
        timezone="UTC",
        enable_utc=True,
        broker_connection_retry_on_startup=True,
        broker_transport_options=_transport_options(settings.broker_url),
        worker_hijack_root_logger=False,
    )
    return app
