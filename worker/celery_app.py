"""The Celery application: queues, routes, beat schedule and reliability settings in one place.

Nothing connects at import time. `configure(settings)` points the app at a broker; the `tocsin`
entry points and the worker bootstrap call it. Task modules are listed in `include` so a worker
started with `-A worker.celery_app` registers the tasks of both sides (`worker.tasks`,
`alerts.tasks`) without `worker` ever importing `alerts` in code.
"""

from __future__ import annotations

from datetime import timedelta

from celery import Celery
from kombu import Queue

from worker.settings import Settings, load_settings

QUEUES = ("poll", "ingest", "detect", "alerts", "notify", "reports")

app = Celery("tocsin", include=["worker.tasks", "alerts.tasks"])

#: Task name prefix → queue. Explicit names (`name="alerts.escalation.tick"`) keep routing stable.
ROUTES = {
    "sources.*": {"queue": "poll"},
    "ingest.*": {"queue": "ingest"},
    "detect.*": {"queue": "detect"},
    "alerts.*": {"queue": "alerts"},
    "notify.*": {"queue": "notify"},
    "reports.*": {"queue": "reports"},
}

#: Short ticks: durable schedules are rows, and each tick claims what is due (STYLE.md habit 5).
BEAT_SCHEDULE = {
    "poll-due-sources": {"task": "sources.poll_due", "schedule": timedelta(seconds=15)},
    "evaluate-topics": {"task": "detect.evaluate_all", "schedule": timedelta(seconds=60)},
    "escalation-tick": {"task": "alerts.escalation.tick", "schedule": timedelta(seconds=5)},
    "deliver-notifications": {"task": "notify.dispatch", "schedule": timedelta(seconds=5)},
    "auditor": {"task": "alerts.auditor", "schedule": timedelta(minutes=5)},
    "deadman": {"task": "alerts.deadman", "schedule": timedelta(seconds=60)},
}


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
    schedule = dict(BEAT_SCHEDULE)
    if beat_seconds is not None:
        # Tests and the demo speed the ticks up; production keeps the defaults above.
        schedule = {
            k: {**v, "schedule": timedelta(seconds=beat_seconds)} for k, v in schedule.items()
        }
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
