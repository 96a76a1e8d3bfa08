"""The response side's jobs (rows of `worker.jobs.JOBS`): thin wrappers around `alerts.service` and
`alerts.outbox`. Celery tasks are made from the table in `worker/tasks.py`; a replay runs these
same functions on its simulated clock."""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path

import httpx
from sqlalchemy import bindparam, select

import alerts.channels  # noqa: F401 - registers the channel types' option checks with the config
from worker.jobs import Context
from worker.logs import get_logger
from worker.storage.dialect import peek
from worker.storage.models import Incident, Notification

log = get_logger("tocsin.alerts")

# Cheap questions asked before the real work, which runs every few seconds and most of the time
# finds nothing to do (built once: a tick should cost what is new, not what is old).
_ANY_OPEN = select(Incident.__table__.c.id).where(Incident.__table__.c.state != "resolved").limit(1)
_N = Notification.__table__.c
_ANY_DUE = (
    select(_N.id)
    .where(
        (_N.status == "pending") | (_N.status == "sending"),
        (_N.next_attempt_at.is_(None)) | (_N.next_attempt_at <= bindparam("now")),
    )
    .limit(1)
)


def _any_open(ctx: Context) -> bool:
    return bool(peek(ctx.sessions, _ANY_OPEN))


def observe(ctx: Context, now: datetime, signal_ids: list[int]) -> list[int]:
    """Open or update incidents from new signals."""
    from alerts.service import observe as observe_signals

    with ctx.sessions.begin() as session:
        ids = observe_signals(session, ctx.config, signal_ids, now)
    log.info("observed", incident_ids=ids)
    return ids


def escalation_tick(ctx: Context, now: datetime) -> int:
    """Fire due escalation steps, then resolve incidents that have been quiet long enough;
    leave the beat's heartbeat for the dead man's switch (live only)."""
    from alerts.service import auto_resolve
    from alerts.service import escalation_tick as tick
    from worker.heartbeat import ESCALATION_TICK, record_heartbeat

    started = time.perf_counter()
    fired = resolved = 0
    if _any_open(ctx):
        fired = tick(
            ctx.sessions, ctx.config, now, base_url=ctx.base_url, secret_key=ctx.secret_key
        )
        resolved = auto_resolve(ctx.sessions, ctx.config, now)
    if ctx.online:  # the beat is alive: the dead man's switch reads this
        with ctx.sessions.begin() as session:
            record_heartbeat(session, ESCALATION_TICK, now, seconds=time.perf_counter() - started)
    if fired or resolved:
        log.info("escalation tick", fired=fired, resolved=resolved)
    if fired and ctx.online:
        # The pages just written go out now rather than at the dispatcher's next beat (issue 13's
        # timing: bench/paging_latency.py). A simulation runs the dispatcher right after this job.
        ctx.send("notify.dispatch", [], now)
    return fired


def dispatch(ctx: Context, now: datetime) -> int:
    """Deliver the notifications that are due."""
    from alerts.channels import build_channels
    from alerts.outbox import dispatch_due, plan_follow_ups

    # Updates of delivered pages (Slack buttons, PagerDuty) after an acknowledgement or a
    # resolution; nothing to read when no channel can update a page.
    plan_follow_ups(ctx.sessions, ctx.config, now)
    if not peek(ctx.sessions, _ANY_DUE, {"now": now}):
        return 0
    channels = ctx.channels
    if channels is None:
        channels = build_channels(ctx.config, ctx.outbox_dir)
    return dispatch_due(ctx.sessions, channels, now, config=ctx.config, clock=ctx.clock)


def auditor(ctx: Context, now: datetime) -> list[str]:
    """Check running escalations; ping the external heartbeat only when all is well."""
    from alerts.service import audit

    problems: list[str] = []
    if _any_open(ctx):
        with ctx.sessions() as session:
            problems = audit(session, now)
    for p in problems:
        log.error("auditor problem", problem=p)
    url = os.environ.get("TOCSIN_HEARTBEAT_URL")
    if url and not problems and ctx.online:
        try:
            httpx.get(url, timeout=10)
        except httpx.HTTPError as exc:
            log.warning("heartbeat failed", error=str(exc)[:300])
    return problems


def deadman(ctx: Context, now: datetime) -> list[str]:
    """The dead man's switch (alerts/deadman.py): page when the pipeline stalls, ping the URL.
    Live only: a replay has no wall clock to fall behind."""
    from alerts.channels import build_channels
    from alerts.deadman import run_deadman

    if not ctx.online:
        return []
    channels = (
        ctx.channels if ctx.channels is not None else build_channels(ctx.config, ctx.outbox_dir)
    )
    result = run_deadman(ctx.sessions, ctx.config, now, channels=channels)
    return [s.component for s in result.stalls]


def refresh_packets(ctx: Context, now: datetime) -> int:
    """Keep a new packet version for every incident whose timeline changed (what leadership was
    told at 14:15 stays readable)."""
    from alerts.packets import refresh_packets as refresh
    from alerts.packets.versions import DUE, RECENT, due_incidents

    # Read outside a transaction first: most ticks no timeline moved and nothing is built.
    if not due_incidents(peek(ctx.sessions, DUE, {"now": now, "since": now - RECENT}), now):
        return 0
    with ctx.sessions.begin() as session:
        return refresh(session, ctx.config, now)


def _reports_dir(ctx: Context) -> Path | None:
    """DATA_DIR/reports live (the outbox's sibling); a replay writes its own reports."""
    return ctx.outbox_dir.parent / "reports" if ctx.online else None


def weekly_report(ctx: Context, now: datetime) -> int:
    """The weekly summary of the last complete week (team's zone), to the outbox."""
    from alerts.reports.send import send_weekly

    with ctx.sessions.begin() as session:  # live, also to files in DATA_DIR/reports
        return send_weekly(session, ctx.config, now, out_dir=_reports_dir(ctx))


def monthly_report(ctx: Context, now: datetime) -> int:
    """The monthly report of the last complete month (team's zone), to the outbox."""
    from alerts.reports.send import send_monthly

    with ctx.sessions.begin() as session:
        return send_monthly(session, ctx.config, now, out_dir=_reports_dir(ctx))
