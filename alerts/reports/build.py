"""Weekly summary, monthly report and span follow-up: plain functions of (session, config, now).

- `build_weekly(session, config, week, now)`: the report for ISO week `week` ("2026-W45" or the
  Monday's date) in the team's zone; `partial` while `now` is before the week's end.
- `build_monthly(session, config, month, now)`, `build_span(session, config, start, end, now)`.
- `public_json(report)`: exactly the stable keys documented in docs/reports.md.
- `write_report(report, out_dir, stem)`: .json, .txt, .html (and .pdf).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.reports.period import Period, summary, topic_report
from worker.config import Config
from worker.localtime import local, zone
from worker.storage.models import MentionRow, PollRow

TOPIC_KEYS = (
    "topic",
    "mentions",
    "mentions_previous",
    "distinct_authors",
    "negative_share",
    "negative_share_previous",
    "positive_share",
    "incidents",
    "top_positive",
    "themes",
    "coverage",
)
COVERAGE_KEYS = ("polls", "ok", "longest_gap_minutes")


def _midnight(d: date, tz: str) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=zone(tz)).astimezone(UTC)


def parse_week(week: str | date) -> date:
    """The Monday of ISO week "YYYY-Www" (or of the week holding a date)."""
    if isinstance(week, date):
        return week - timedelta(days=week.weekday())
    try:
        year, w = week.upper().split("-W")
        return date.fromisocalendar(int(year), int(w), 1)
    except ValueError:
        raise ValueError(f"not an ISO week (expected YYYY-Www, e.g. 2026-W45): {week!r}") from None


def week_label(monday: date) -> str:
    y, w, _ = monday.isocalendar()
    return f"{y}-W{w:02d}"


def week_period(week: str | date, tz: str) -> Period:
    monday = parse_week(week)
    return Period(
        "week",
        week_label(monday),
        _midnight(monday, tz),
        _midnight(monday + timedelta(days=7), tz),
        _midnight(monday - timedelta(days=7), tz),
    )


def last_complete_week(now: datetime, tz: str) -> date:
    today = local(now, tz).date()
    return today - timedelta(days=today.weekday() + 7)


def month_period(month: str, tz: str) -> Period:
    try:
        y, m = (int(x) for x in month.split("-"))
        first = date(y, m, 1)
    except ValueError:
        raise ValueError(f"not a month (expected YYYY-MM, e.g. 2026-11): {month!r}") from None
    nxt = date(y + (m == 12), m % 12 + 1, 1)
    prev = date(y - (m == 1), (m - 2) % 12 + 1, 1)
    return Period(
        "month", f"{y}-{m:02d}", _midnight(first, tz), _midnight(nxt, tz), _midnight(prev, tz)
    )


def last_complete_month(now: datetime, tz: str) -> str:
    today = local(now, tz).date()
    prev = date(today.year - (today.month == 1), (today.month - 2) % 12 + 1, 1)
    return f"{prev.year}-{prev.month:02d}"


def span_period(start: datetime, end: datetime) -> Period:
    if end <= start:
        raise ValueError("the span's end must be after its start")
    return Period(
        "span",
        f"{start.astimezone(UTC):%Y%m%dT%H%M}-{end.astimezone(UTC):%Y%m%dT%H%M}",
        start.astimezone(UTC),
        end.astimezone(UTC),
        start.astimezone(UTC) - (end - start),
    )


def report_topics(session: Session, config: Config, period: Period, only: str | None) -> list[str]:
    """The configured topics and any other topic with mentions or polls in the period."""
    if only:
        return [only]
    found = set(config.topics)
    found.update(
        session.scalars(
            select(MentionRow.topic)
            .distinct()
            .where(MentionRow.created_at >= period.start, MentionRow.created_at < period.end)
        )
    )
    found.update(
        session.scalars(
            select(PollRow.topic)
            .distinct()
            .where(PollRow.at >= period.start, PollRow.at < period.end)
        )
    )
    return sorted(found)


def build_report(
    session: Session, config: Config, period: Period, now: datetime, *, topic: str | None = None
) -> dict[str, Any]:
    topics = [
        topic_report(session, config, t, period, now)
        for t in report_topics(session, config, period, topic)
    ]
    quiet = not any(i["severity"] in ("SEV1", "SEV2") for t in topics for i in t["incidents"])
    head: dict[str, Any] = (
        {"week": period.label}
        if period.kind == "week"
        else ({"month": period.label} if period.kind == "month" else {"span": period.label})
    )
    return {
        **head,
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "timezone": config.timezone,
        "partial": now < period.end,
        "quiet": quiet,
        "summary": summary(topics, period, config, quiet),
        "topics": topics,
        "_kind": period.kind,
    }


def build_weekly(
    session: Session, config: Config, week: str | date, now: datetime, *, topic: str | None = None
) -> dict[str, Any]:
    return build_report(session, config, week_period(week, config.timezone), now, topic=topic)


def build_monthly(
    session: Session, config: Config, month: str, now: datetime, *, topic: str | None = None
) -> dict[str, Any]:
    return build_report(session, config, month_period(month, config.timezone), now, topic=topic)


def build_span(
    session: Session,
    config: Config,
    start: datetime,
    end: datetime,
    now: datetime,
    *,
    topic: str | None = None,
) -> dict[str, Any]:
    return build_report(session, config, span_period(start, end), now, topic=topic)


def public_json(report: dict[str, Any]) -> dict[str, Any]:
    """Exactly the documented keys (docs/reports.md), in a stable order."""
    out = {k: v for k, v in report.items() if not k.startswith("_") and k != "topics"}
    out["topics"] = [
        {
            **{k: t[k] for k in TOPIC_KEYS if k != "coverage"},
            "coverage": {
                p: {k: c[k] for k in COVERAGE_KEYS} for p, c in sorted(t["coverage"].items())
            },
        }
        for t in report["topics"]
    ]
    return out


def report_stem(report: dict[str, Any]) -> str:
    kind = report["_kind"]
    label = (
        report["week"] if kind == "week" else report["month"] if kind == "month" else report["span"]
    )
    return {"week": "weekly", "month": "monthly", "span": "span"}[kind] + f"-{label}"


def write_report(
    report: dict[str, Any], out_dir: Path, *, pdf: bool = True, html: bool = True, txt: bool = True
) -> dict[str, Path]:
    """Write STEM.json (and .html, .txt, .pdf) under out_dir; returns the paths by suffix."""
    from alerts.reports.render import render_report_html, render_report_text

    out_dir.mkdir(parents=True, exist_ok=True)
    stem = report_stem(report)
    paths: dict[str, Path] = {}
    paths["json"] = out_dir / f"{stem}.json"
    paths["json"].write_text(
        json.dumps(public_json(report), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    if txt:
        paths["txt"] = out_dir / f"{stem}.txt"
        paths["txt"].write_text(render_report_text(report), encoding="utf-8")
    if html or pdf:
        page = render_report_html(report)
        if html:
            paths["html"] = out_dir / f"{stem}.html"
            paths["html"].write_text(page, encoding="utf-8")
        if pdf:
            from alerts.pdf import PDFUnavailable, html_to_pdf

            try:
                paths["pdf"] = html_to_pdf(page, out_dir / f"{stem}.pdf")
            except PDFUnavailable as exc:  # the other files are written; say why this one is not
                print(f"tocsin: {exc}", file=sys.stderr)
    return paths


def write_weekly(
    session: Session,
    config: Config,
    week: str | date,
    now: datetime,
    out_dir: Path,
    *,
    topic: str | None = None,
    pdf: bool = True,
) -> dict[str, Path]:
    return write_report(build_weekly(session, config, week, now, topic=topic), out_dir, pdf=pdf)


def replay_reports(
    session: Session, config: Config, first: datetime, last: datetime
) -> list[dict[str, Any]]:
    """For `tocsin replay`: the weekly summary of every ISO week (in the team's zone) that
    [first, last] touches, as the beat would have sent it; a week the replay does not cover to
    its end is `"partial": true` (built as of `last`)."""
    tz = config.timezone
    monday = parse_week(local(first, tz).date())
    end_monday = parse_week(local(last, tz).date())
    reports = []
    while monday <= end_monday:
        period = week_period(monday, tz)
        reports.append(
            build_report(session, config, period, period.end if period.end <= last else last)
        )
        monday += timedelta(days=7)
    return reports


def write_replay_reports(reports: Sequence[dict[str, Any]], out_dir: Path) -> list[Path]:
    """`replay_reports` written as DIR/reports/weekly-YYYY-Www.json and .html; the JSON paths."""
    return [
        write_report(report, out_dir / "reports", pdf=False, txt=False)["json"]
        for report in reports
    ]
