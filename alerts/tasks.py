"""Celery tasks of the alerts side: thin wrappers around `alerts.service` and `alerts.outbox`."""

from __future__ import annotations

import logging
from datetime import datetime

import httpx

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
    import time

    from alerts.service import auto_resolve
    from alerts.service import escalation_tick as tick
    from worker.heartbeat import ESCALATION_TICK, record_heartbeat

    rt, now = get_runtime(), utcnow()
    started = time.perf_counter()
    fired = tick(
        rt.sessions,
        rt.config,
        now,
        base_url=rt.settings.base_url,
        secret_key=rt.settings.secret_key,
    )
    resolved = auto_resolve(rt.sessions, rt.config, now)
    with rt.sessions.begin() as session:  # the beat is alive: the dead man's switch reads this
        record_heartbeat(session, ESCALATION_TICK, now, seconds=time.perf_counter() - started)
    if fired or resolved:
        log.info("escalation tick fired=%d resolved=%d", fired, resolved)
    return fired


@app.task(name="notify.dispatch")
def dispatch() -> int:
    from alerts.channels import build_channels
    from alerts.outbox import dispatch_due

    rt = get_runtime()
    return dispatch_due(rt.sessions, build_channels(rt.config, rt.outbox_dir), utcnow())


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


@app.task(name="alerts.deadman")
def deadman() -> list[str]:
    """The dead man's switch (alerts/deadman.py): page when the pipeline stalls, ping the URL."""
    from alerts.channels import build_channels
    from alerts.deadman import run_deadman

    rt = get_runtime()
    result = run_deadman(
        rt.sessions, rt.config, utcnow(), channels=build_channels(rt.config, rt.outbox_dir)
    )
    return [s.component for s in result.stalls]
