"""Sending a report through the normal outbox: one notification row per recipient × channel.

The rows carry the e-mail parts in their body (`text`, `html`, inline `images`), so every channel
delivers the report as it delivers a page (console files, SMTP with the charts as inline PNG,
webhook JSON). The idempotency key names the report, so sending the same week twice writes
nothing the second time.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from alerts.reports.build import (
    build_monthly,
    build_weekly,
    last_complete_month,
    last_complete_week,
    report_stem,
)
from alerts.reports.render import report_email
from worker.config import Config
from worker.storage.models import Notification


def _channels(config: Config) -> tuple[str, ...]:
    if config.reports.channels:
        return config.reports.channels
    policy = config.policies.get("default")
    if policy and policy.steps:
        return policy.steps[-1].channels
    return ("console",)


def send_report(session: Session, config: Config, report: dict[str, Any], now: datetime) -> int:
    """Write the report's notification rows for `[reports] recipients`; returns rows written."""
    parts = report_email(report)
    stem = report_stem(report)
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    written = 0
    for person in config.resolve(config.reports.recipients):
        for name in _channels(config):
            channel = config.channels.get(name) or config.channels["console"]
            if channel.type == "smtp":
                address = person.email
            elif channel.type == "webhook":
                address = str(channel.options.get("url"))
            else:
                address = person.id
            if not address:
                channel, address = config.channels["console"], person.id
            body = {
                "kind": "report",
                "report": stem,
                "title": parts.subject,
                "summary": report["summary"],
                # What chat and SMS channels show of a message (they do not send the HTML).
                "explanations": [report["summary"]],
                "recipient_name": person.name,
                **parts.to_body(),
            }
            result = session.execute(
                insert(Notification)
                .values(
                    incident_id=None,
                    idempotency_key=f"report:{stem}:{person.id}:{channel.name}",
                    step=0,
                    fence=0,
                    recipient=person.id,
                    role="report",
                    channel=channel.name,
                    address=address,
                    subject=parts.subject,
                    body=body,
                    status="pending",
                    attempts=0,
                    created_at=now,
                    next_attempt_at=now,
                )
                .on_conflict_do_nothing(index_elements=["idempotency_key"])
                .returning(Notification.id)
            )
            written += len(result.all())
    return written


def _keep(report: dict[str, Any], out_dir: Path | None) -> None:
    """Also write the report's files (.json, .txt, .html, .pdf) to out_dir, when given."""
    if out_dir is not None:
        from alerts.reports.build import write_report

        write_report(report, out_dir)


def send_weekly(
    session: Session,
    config: Config,
    now: datetime,
    week: str | date | None = None,
    *,
    out_dir: Path | None = None,
) -> int:
    """The weekly job: the last complete week in the team's zone (or `week`), to the outbox, and
    to files under `out_dir` (live: DATA_DIR/reports)."""
    week = week or last_complete_week(now, config.timezone)
    report = build_weekly(session, config, week, now)
    _keep(report, out_dir)
    return send_report(session, config, report, now)


def send_monthly(
    session: Session,
    config: Config,
    now: datetime,
    month: str | None = None,
    *,
    out_dir: Path | None = None,
) -> int:
    month = month or last_complete_month(now, config.timezone)
    report = build_monthly(session, config, month, now)
    _keep(report, out_dir)
    return send_report(session, config, report, now)
