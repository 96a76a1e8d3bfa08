"""The weekly summary (and monthly report): stable JSON, good news first, quiet weeks proven by
the poll record, a source that was down reported, a week without mentions said so, sending
through the outbox once (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from alerts.channels.console import ConsoleChannel
from alerts.outbox import dispatch_due
from alerts.reports import (
    build_monthly,
    build_span,
    build_weekly,
    public_json,
    replay_reports,
    send_weekly,
    write_replay_reports,
    write_report,
)
from alerts.reports.build import last_complete_week, week_period
from alerts.reports.render import render_report_html, render_report_text
from tests.alerts.reporting import T0, build_incident, config, mention
from worker.config import ConfigError, parse_config
from worker.ingest import store_mentions
from worker.storage.models import MentionRow, Notification, PollRow, Source

WEEK_START = datetime(2026, 11, 1, 23, 0, tzinfo=UTC)  # Monday 2 November 00:00 in Paris
WEEK_END = datetime(2026, 11, 8, 23, 0, tzinfo=UTC)
TOPIC_KEYS = [
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
]


def polls(
    s: Session,
    platform: str,
    start: datetime,
    end: datetime,
    every: timedelta = timedelta(minutes=5),
    down: tuple[datetime, datetime] | None = None,
) -> None:
    source = Source(topic="lumio", platform=platform, query="q", cursor={})
    s.add(source)
    s.flush()
    t = start
    while t < end:
        bad = down is not None and down[0] <= t < down[1]
        s.add(
            PollRow(
                source_id=source.id,
                topic="lumio",
                platform=platform,
                at=t,
                health="unavailable" if bad else "ok",
                fetched=0,
                new=0,
            )
        )
        t += every


def test_weekly_json_is_the_stable_format_with_the_week_in_numbers(
    sessions: sessionmaker[Session],
) -> None:
    cfg = config()
    inc = build_incident(sessions, cfg)
    now = T0 + timedelta(hours=2)
    with sessions() as s:
        full = build_weekly(s, cfg, "2026-W45", now)
        report = public_json(full)
    # Each incident with its severity, who acknowledged and after how long, on page and in text.
    said = "#1 SEV2</strong> opened Fri 06 Nov 15:00 CET · acknowledged by alice after 20 min"
    assert said in render_report_html(full) and "still open" in render_report_html(full)
    assert "SEV2 opened Fri 15:00 CET, acknowledged by alice after 20 min, open" in (
        render_report_text(full)
    )
    assert list(report) == [
        "week",
        "start",
        "end",
        "timezone",
        "partial",
        "quiet",
        "summary",
        "topics",
    ]
    assert report["week"] == "2026-W45"
    assert report["start"] == WEEK_START.isoformat() and report["end"] == WEEK_END.isoformat()
    assert report["timezone"] == "Europe/Paris"
    assert report["partial"] is True  # the week is not over at `now`
    assert report["quiet"] is False  # a SEV2 incident opened
    (topic,) = report["topics"]
    assert list(topic) == TOPIC_KEYS
    # 46 calm hours × 3 posts, and the 40 posts of the burst (all stored, none twice).
    assert topic["mentions"] == 46 * 3 + 40 and topic["mentions_previous"] == 0
    assert topic["distinct_authors"] == 50 + 40
    assert 0 < topic["negative_share"] < 1 and topic["negative_share_previous"] is None
    (incident,) = topic["incidents"]
    assert incident == {
        "id": inc,
        "severity": "SEV2",
        "opened_at": T0.isoformat(),
        "acknowledged_at": (T0 + timedelta(minutes=20)).isoformat(),
        "resolved_at": None,
        "acknowledged_by": "alice",
    }
    assert topic["top_positive"] and all(
        list(p) == ["platform", "id", "url", "text", "author", "reach"]
        for p in topic["top_positive"]
    )
    assert report["summary"].startswith("Good news first: ")
    assert (
        "SEV2 on Lumio opened Fri 15:00 CET, acknowledged by alice after 20 min"
        in (report["summary"])
    )


def test_a_week_with_a_source_down_reports_the_gap(sessions: sessionmaker[Session]) -> None:
    cfg = config()
    with sessions.begin() as s:
        polls(s, "reddit", WEEK_START, WEEK_END)
        down = (datetime(2026, 11, 3, 2, 10, tzinfo=UTC), datetime(2026, 11, 3, 8, 30, tzinfo=UTC))
        polls(s, "rss", WEEK_START, WEEK_END, down=down)
        # bluesky stops answering on Saturday night and never comes back (no poll at all).
        polls(s, "bluesky", WEEK_START, datetime(2026, 11, 7, 23, 0, tzinfo=UTC))
    with sessions() as s:
        report = public_json(build_weekly(s, cfg, "2026-W45", WEEK_END + timedelta(days=1)))
    (topic,) = report["topics"]
    assert report["partial"] is False
    assert topic["coverage"]["reddit"] == {"polls": 2016, "ok": 2016, "longest_gap_minutes": 5}
    rss = topic["coverage"]["rss"]
    assert rss["polls"] == 2016 and rss["ok"] == 2016 - 76
    assert rss["longest_gap_minutes"] == 385  # from the last ok answer at 02:05 to 08:30 UTC
    assert "2 sources were down: " in report["summary"]
    assert "rss (lumio) did not answer for 6 h 25 min from Tue 03:05 CET" in report["summary"]
    assert "unavailable ×76" in report["summary"]
    # The silence up to the end of the week counts: from the last ok poll (Sat 22:55 UTC).
    assert topic["coverage"]["bluesky"]["longest_gap_minutes"] == 24 * 60 + 5
    assert "bluesky (lumio) did not answer for 24 h 05 min from Sat 23:55 CET" in report["summary"]


def test_a_quiet_week_says_so_with_the_proof_of_watch(sessions: sessionmaker[Session]) -> None:
    cfg = config()
    with sessions.begin() as s:
        polls(s, "reddit", WEEK_START, WEEK_END)
        polls(s, "rss", WEEK_START, WEEK_END, every=timedelta(minutes=14))
    with sessions() as s:
        report = public_json(build_weekly(s, cfg, "2026-W45", WEEK_END + timedelta(days=1)))
    assert report["quiet"] is True
    # No mention at all: said so, not "quiet".
    assert (
        "No mentions at all this week: tocsin watched 1 topic on 2 platforms" in report["summary"]
    )
    assert "No incident" not in report["summary"]
    assert (
        "every source answered at least every 14 minutes (longest gap: 14 min on rss"
        in (report["summary"])
    )


def test_a_week_with_mentions_and_no_incident_is_quiet(sessions: sessionmaker[Session]) -> None:
    cfg = config()
    build_incident(sessions, cfg)
    next_week = datetime(2026, 11, 9, 12, tzinfo=UTC)
    with sessions() as s:
        # The week before the incident: only calm posts from Wednesday on (the scenario's start).
        report = build_weekly(s, cfg, "2026-W45", T0 - timedelta(hours=3))
        later = build_weekly(s, cfg, "2026-W46", next_week)
    assert report["quiet"] is True and "No incident this week." in report["summary"]
    assert "cannot prove it watched continuously" in report["summary"]  # no poll recorded
    assert later["topics"][0]["mentions"] == 0 and "No mentions at all" in later["summary"]


def test_each_number_is_set_against_the_previous_week_and_the_four_week_average(
    sessions: sessionmaker[Session],
) -> None:
    """Mentions, distinct authors, positive and negative share: this week, the week before and
    the average of the four weeks before (shares pooled over those weeks), each counted here from
    the stored rows, on the page and in the text."""
    cfg = config()
    texts = ["Love my Lumio lamp, great light", "My Lumio lamp broke, terrible and useless"]
    with sessions.begin() as s:
        for k in range(5):  # W45 (k = 0) back to W41: 2k + 3 posts by k + 2 authors
            at = WEEK_START - timedelta(days=7 * k) + timedelta(days=2)
            batch = [
                mention(1000 * k + j, at + timedelta(minutes=j), texts[(j + k) % 2],
                        author=f"w{k}a{j % (k + 2)}")
                for j in range(2 * k + 3)
            ]  # fmt: skip
            store_mentions(s, batch, at + timedelta(hours=1), topic="lumio")
    with sessions() as s:
        report = build_weekly(s, cfg, "2026-W45", WEEK_END + timedelta(days=1))
        rows = s.execute(select(MentionRow.created_at, MentionRow.label, MentionRow.author)).all()

    def week(k: int) -> list[Any]:
        start = WEEK_START - timedelta(days=7 * k)
        return [r for r in rows if start <= r.created_at < start + timedelta(days=7)]

    before = [r for k in range(1, 5) for r in week(k)]
    (t,) = report["topics"]
    assert (t["mentions"], t["mentions_previous"]) == (len(week(0)), len(week(1))) == (3, 5)
    assert t["_mentions_avg4"] == len(before) / 4 == 8.0
    assert t["distinct_authors"] == 2 and t["_authors_previous"] == 3
    assert t["_authors_avg4"] == sum(len({r.author for r in week(k)}) for k in range(1, 5)) / 4
    for label, key in (("pos", "_positive_share_avg4"), ("neg", "_negative_share_avg4")):
        assert t[key] == round(sum(r.label == label for r in before) / len(before), 3)
    assert {r.label for r in before} == {"pos", "neg"}
    html, text = render_report_html(report), render_report_text(report)
    assert "mentions 3 / 5 / 8.0" in text and "distinct authors 2 / 3 / 4.5" in text
    pos = f"{100 * t['_positive_share_avg4']:.0f}%"
    assert f"positive {100 * t['positive_share']:.0f}%" in text and pos in text
    assert '<td class="n">8.0</td>' in html and '<td class="n">4.5</td>' in html
    assert f'<td class="n">{pos}</td>' in html


def test_good_news_first_names_what_people_liked(sessions: sessionmaker[Session]) -> None:
    cfg = config()
    liked = [
        "Love the warm light of my new Lumio lamp, wonderful",
        "The warm light of the Lumio is lovely in the evening, great buy",
        "So happy with the warm light, best lamp I have owned, thanks Lumio",
        "Great design and a warm light, Lumio nailed it",
    ]
    before = [  # the weeks before: other praise, so "warm light" is what rose
        f"Lumio support {w} sorted my pairing issue, great service, thank you"
        for w in ("quickly", "kindly", "patiently", "politely", "calmly", "expertly")
    ]
    at = WEEK_START + timedelta(days=1)
    with sessions.begin() as s:
        batch = [mention(i, at + timedelta(hours=i), t) for i, t in enumerate(liked)]
        batch += [
            mention(100 + i, at - timedelta(days=7, hours=i), t) for i, t in enumerate(before)
        ]
        store_mentions(s, batch, at + timedelta(hours=6), topic="lumio")
    with sessions() as s:
        report = build_weekly(s, cfg, "2026-W45", WEEK_END + timedelta(hours=1))
    (t,) = report["topics"]
    assert "warm light" in [th["term"] for th in t["themes"]]
    text = render_report_text(report)
    assert text.index("Good news first") < text.index("what people liked: ")
    assert "warm light" in text.split("what people liked: ")[1].splitlines()[0]
    assert "<strong>What people liked:</strong>" in render_report_html(report)


def test_monthly_report_uses_the_same_model(sessions: sessionmaker[Session]) -> None:
    cfg = config()
    build_incident(sessions, cfg)
    with sessions() as s:
        report = public_json(build_monthly(s, cfg, "2026-11", T0 + timedelta(days=30)))
    assert report["month"] == "2026-11" and report["partial"] is False
    assert report["topics"][0]["mentions"] == 46 * 3 + 40


def test_span_follow_up_counts_the_campaign_window(sessions: sessionmaker[Session]) -> None:
    cfg = config()
    build_incident(sessions, cfg)
    start = datetime(2026, 11, 6, 13, 0, tzinfo=UTC)
    with sessions() as s:
        report = public_json(
            build_span(
                s, cfg, start, start + timedelta(hours=3), T0 + timedelta(days=1), topic="lumio"
            )
        )
    assert report["span"] == "20261106T1300-20261106T1600"
    (topic,) = report["topics"]
    assert topic["mentions"] == 40  # the burst (the calm posts stop at 12:00)
    assert topic["mentions_previous"] == 6  # the three hours before: calm posts at 10 and 11


def test_sending_writes_one_notification_per_recipient_once_and_delivers_it(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    cfg = config()
    build_incident(sessions, cfg)
    monday = datetime(2026, 11, 9, 8, 0, tzinfo=UTC)  # Mon 09:00 in Paris
    assert last_complete_week(monday, cfg.timezone).isoformat() == "2026-11-02"
    with sessions.begin() as s:
        assert send_weekly(s, cfg, monday) == 2  # carol and bob (the leadership group)
    with sessions.begin() as s:
        assert send_weekly(s, cfg, monday) == 0  # the same week again: nothing new
    with sessions() as s:
        rows = s.scalars(
            select(Notification)
            .where(Notification.incident_id.is_(None))
            .order_by(Notification.recipient)
        ).all()
        assert [(n.recipient, n.channel, n.role) for n in rows] == [
            ("bob", "console", "report"),
            ("carol", "console", "report"),
        ]
        assert rows[0].subject == "Weekly summary 2026-W45"
        assert rows[0].body["images"][0]["mime"] == "image/png"
        # Chat and SMS channels, which do not send the HTML, show the summary.
        assert rows[0].body["explanations"] == [rows[0].body["summary"]]
        assert rows[0].body["summary"].startswith("Good news first")
    delivered = dispatch_due(sessions, {"console": ConsoleChannel(tmp_path)}, monday)
    assert delivered == 2  # the two reports (the page to alice was cancelled by her ack)
    text = (tmp_path / f"{rows[0].id:06d}-bob.txt").read_text(encoding="utf-8")
    assert text.startswith("Weekly summary 2026-W45") and "Good news first" in text


def test_the_weekly_job_also_writes_the_files_live_and_not_in_a_replay(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    from alerts.tasks import weekly_report
    from worker.jobs import Context

    cfg = config()
    build_incident(sessions, cfg)
    monday = datetime(2026, 11, 9, 8, 5, tzinfo=UTC)
    live = Context(sessions, cfg, lambda *a, **k: None, outbox_dir=tmp_path / "live" / "outbox")
    assert weekly_report(live, monday) == 2
    written = sorted(p.name for p in (tmp_path / "live" / "reports").iterdir())
    assert written == [f"weekly-2026-W45.{x}" for x in ("html", "json", "pdf", "txt")]
    saved = json.loads((tmp_path / "live" / "reports" / "weekly-2026-W45.json").read_text())
    assert saved["partial"] is False and saved["topics"][0]["mentions"] == 46 * 3 + 40
    replay = Context(
        sessions, cfg, lambda *a, **k: None, outbox_dir=tmp_path / "replay" / "outbox", online=False
    )
    weekly_report(replay, monday)
    assert not (tmp_path / "replay" / "reports").exists()  # the replay writes its own


def test_files_are_written_and_the_pdf_holds_the_summary(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    cfg = config()
    build_incident(sessions, cfg)
    with sessions() as s:
        report = build_weekly(s, cfg, "2026-W45", T0 + timedelta(days=3))
    paths = write_report(report, tmp_path)
    assert sorted(p.name for p in paths.values()) == [
        "weekly-2026-W45.html",
        "weekly-2026-W45.json",
        "weekly-2026-W45.pdf",
        "weekly-2026-W45.txt",
    ]
    assert json.loads(paths["json"].read_text(encoding="utf-8")) == public_json(report)
    pdf = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(paths["pdf"]).pages)
    assert " ".join(report["summary"].split())[:60] in pdf


def test_week_bounds_follow_the_team_zone_across_a_clock_change() -> None:
    period = week_period("2026-W44", "Europe/Paris")  # summer time ended Sunday 25 October
    assert period.start == datetime(2026, 10, 25, 23, 0, tzinfo=UTC)  # Monday 00:00 CET
    period = week_period("2026-W43", "Europe/Paris")
    assert period.end - period.start == timedelta(days=7, hours=1)


@pytest.mark.parametrize(
    ("section", "error"),
    [
        ('weekly = "Someday 09:00"', "tocsin.toml:3: reports.weekly: must be a weekday"),
        ('monthly = "31 09:00"', "tocsin.toml:3: reports.monthly: must be a day of the month"),
        ('recipients = "board"', "tocsin.toml:3: reports.recipients: unknown person or group"),
        ('channels = ["pager"]', "tocsin.toml:3: reports.channels: unknown channel 'pager'"),
        ('colour = "red"', "tocsin.toml:3: reports.colour: unknown key"),
    ],
)
def test_reports_section_errors_name_the_line_and_key(section: str, error: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config(f"\n[reports]\n{section}\n")
    assert str(exc.value).startswith(error)


def test_reports_section_defaults_and_schedule() -> None:
    cfg = parse_config('[reports]\nweekly = "Fri 17:30"\n')
    assert cfg.reports.weekly_cron() == "30 17 * * 5"
    assert cfg.reports.monthly_cron() == "0 9 1 * *"
    assert cfg.reports.recipients == "leadership"
    assert parse_config("").reports.weekly_cron() == "0 9 * * 1"


def test_replay_reports_cover_every_week_touched_and_mark_the_unfinished_one_partial(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    cfg = config()
    build_incident(sessions, cfg)
    first, last = T0 - timedelta(days=2), datetime(2026, 11, 11, 12, tzinfo=UTC)  # Wed of W46
    with sessions() as s:
        written = write_replay_reports(replay_reports(s, cfg, first, last), tmp_path)
    assert [p.name for p in written] == ["weekly-2026-W45.json", "weekly-2026-W46.json"]
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == [
        "weekly-2026-W45.html",
        "weekly-2026-W45.json",
        "weekly-2026-W46.html",
        "weekly-2026-W46.json",
    ]
    w45, w46 = (json.loads(p.read_text(encoding="utf-8")) for p in written)
    assert w45["partial"] is False and w46["partial"] is True
    assert w45["topics"][0]["mentions"] == 46 * 3 + 40
    assert w46["topics"][0]["mentions_previous"] == 46 * 3 + 40
