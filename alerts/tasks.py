"""Celery tasks of the alerts side: thin wrappers around `alerts.service` and `alerts.outbox`."""

from __future__ import annotations

import logging
from datetime import datetime

import httpx

import alerts.channels  # noqa: F401 - registers the channel types' option checks with the config
from worker.celery_app import app
from worker.runtime import get_runtime, utcnow

log = logging.getLogger("tocsin.alerts")


@app.task(name="alerts.observe")
def observe(signal_ids: list[int], now_iso: str | None = None) -> list[int]:
    from alerts.service import observe as observe_signals

    rt = get_runtime()
    now = datetime.fromisoformat(now_iso) if now_iso else utcnow()
    with rt.sessions.begin() as session:
        ids = observe_signals(session, rt.config, signal_ids, now)
    log.info("observed signals=%s incidents=%s", signal_ids, ids)
    return ids


@app.task(name="alerts.escalation.tick")
def escalation_tick() -> int:
    from alerts.service import auto_resolve
    from alerts.service import escalation_tick as tick

    rt, now = get_runtime(), utcnow()
    fired = tick(
        rt.sessions,
        rt.config,
        now,
        base_url=rt.settings.base_url,
        secret_key=rt.settings.secret_key,
    )
    resolved = auto_resolve(rt.sessions, rt.config, now)
    if fired or resolved:
        log.info("escalation tick fired=%d resolved=%d", fired, resolved)
    return fired


@app.task(name="notify.dispatch")
def dispatch() -> int:
    from alerts.channels import build_channels
    from alerts.outbox import dispatch_due, plan_follow_ups

    rt = get_runtime()
    plan_follow_ups(rt.sessions, rt.config, utcnow())
    channels = build_channels(rt.config, rt.outbox_dir)
    return dispatch_due(rt.sessions, channels, utcnow(), config=rt.config, clock=utcnow)


@app.task(name="alerts.auditor")
def auditor(heartbeat_url: str | None = None) -> list[str]:
    """Check running escalations; ping the external heartbeat only when all is well."""
    import os

    from alerts.service import audit

    rt = get_runtime()
    with rt.sessions() as session:
        problems = audit(session, utcnow())
    for p in problems:
        log.error("auditor: %s", p)
    url = heartbeat_url or os.environ.get("TOCSIN_HEARTBEAT_URL")
    if url and not problems:
        try:
            httpx.get(url, timeout=10)
        except httpx.HTTPError as exc:
            log.warning("auditor: heartbeat %s failed: %s", url, exc)
    return problems
