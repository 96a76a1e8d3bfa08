"""Celery app for tests that play the beat themselves: counts published and finished tasks in
Redis, so a test can wait until the whole fan-out of a job has run (nothing published is still
pending or running) before it sends the next one."""

from __future__ import annotations

import os
from typing import Any

import redis
from celery.signals import before_task_publish, task_postrun

from worker.celery_worker import app

__all__ = ["app"]

_redis = redis.Redis.from_url(os.environ["TOCSIN_TEST_COUNTERS_URL"])


@before_task_publish.connect
def _published(**_: Any) -> None:
    _redis.incr("tocsin:test:published")


@task_postrun.connect
def _finished(**_: Any) -> None:
    _redis.incr("tocsin:test:finished")
