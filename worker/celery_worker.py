"""Bootstrap module for `celery -A worker.celery_worker worker|beat`: configures the app from the
environment when the worker process imports it (the one place that does so at import)."""

from __future__ import annotations

import os

from worker.celery_app import configure
from worker.logs import configure as configure_logs
from worker.observability import init_sentry

_beat = os.environ.get("TOCSIN_BEAT_SECONDS")
app = configure(beat_seconds=float(_beat) if _beat else None)
init_sentry()
configure_logs()
