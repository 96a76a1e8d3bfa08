"""`tocsin replay`: the whole pipeline over a mentions file, on a simulated clock.

1. Read the file (JSONL or CSV); every bad line is reported with its number and skipped.
2. Build a fresh SQLite database in the output directory and apply the migrations.
3. Walk the clock one bucket at a time from the first mention to the last (plus a tail, so that
   escalations and auto-resolution can play out), running the one table of jobs
   (`worker.jobs.simulate`): at each tick the mentions that are now in the past are handed to the
   `ingest.push` task, as a push source would hand them live, then every job that is due runs —
   evaluate, open or update incidents, fire escalation steps, deliver notifications — with the
   follow-up tasks each sends. These are the very functions the Celery tasks run.
4. Write signals.jsonl, incidents.jsonl, notifications.jsonl, a briefing packet per incident and
   reports/weekly-YYYY-Www.json (and .html) for every ISO week the clock touched.

Replay never sends a real message: every channel is replaced by a recorder that writes files.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import select

from alerts.channels.base import OutgoingMessage
from worker.config import Config, default_config
from worker.ingest import bucket_start
from worker.jobs import Context, InlineQueue, simulate
from worker.model import Mention
from worker.serialize import mention_to_json
from worker.storage.db import make_engine, make_sessionmaker, upgrade
from worker.storage.models import Incident, Notification, SignalRow
from worker.tasks import PUSH_NORMALISED

SEV = {1: "SEV1", 2: "SEV2", 3: "SEV3", 4: "SEV4"}


class RecordingChannel:
    """Stands in for every real channel during a replay: keeps what would have been sent."""

    def __init__(self, name: str, directory: Path) -> None:
        self.name = name
        self.directory = directory
        self.sent: list[OutgoingMessage] = []

    def send(self, message: OutgoingMessage) -> None:
        self.sent.append(message)
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{message.notification_id:06d}-{message.channel}.json"
        path.write_text(
            json.dumps(
                {
                    "to": message.recipient,
                    "role": message.role,
                    "address": message.address,
                    "subject": message.subject,
                    "body": message.body,
                },
                indent=2,
                ensure_ascii=False,
                default=str,
            ),
            encoding="utf-8",
        )


@dataclass
class ReplayResult:
    out_dir: Path
    mentions: int
    skipped: int
    topics: list[str]
    first: datetime | None
    last: datetime | None
    incidents: list[dict[str, Any]] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    signals: int = 0
    packets: dict[int, Path] = field(default_factory=dict)
    timezone: str = "UTC"  # the config's `[tocsin] timezone`, for what people read
    #: reports/weekly-YYYY-Www.json of every week the replay touched (partial: not to its end).
    reports: list[Path] = field(default_factory=list)
    #: The last of those weeks' report as built (`tocsin demo` writes its text and PDF too).
    last_report: dict[str, Any] | None = None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _ticks(first: datetime, last: datetime, step: timedelta) -> Iterator[datetime]:
    t = bucket_start(first, int(step.total_seconds())) + step
    while t <= last + step:
        yield t
        t += step


def replay(
    path: Path,
    out_dir: Path,
    config: Config | None = None,
    *,
    tail: timedelta = timedelta(hours=3),
    err: TextIO = sys.stderr,
    progress: bool | None = None,
    on_tick: Callable[[datetime], None] | None = None,
) -> ReplayResult:
    from tqdm import tqdm

    from alerts.packets import build_packet, write_packet
    from alerts.reports.build import replay_reports, write_replay_reports

    # 1. Read, reporting bad lines without stopping. A file in time order (the usual case) is
    # scanned once here and streamed again as the clock moves, so memory stays flat however
    # long it is; one out of order is read whole and sorted (stable: ties keep file order).
    scan = _scan(path)
    for e in scan.errors:
        print(f"{path}:{e.line_no}: skipped: {e.reason}", file=err)
    topics = sorted(scan.topics)
    config = config or default_config(topics)
    result = ReplayResult(
        out_dir,
        scan.count,
        len(scan.errors),
        topics,
        scan.first,
        scan.last,
        timezone=config.timezone,
    )
    if not scan.count or scan.first is None or scan.last is None:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name in ("signals", "incidents", "notifications"):
            (out_dir / f"{name}.jsonl").write_text("", encoding="utf-8")
        return result
    stream: Iterator[Mention]
    if scan.ordered:
        stream = _mentions(path)
    else:
        stream = iter(sorted(_mentions(path), key=lambda m: m.created_at))

    # 2. A fresh database of its own.
    out_dir.mkdir(parents=True, exist_ok=True)
    db_path = out_dir / "replay.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{db_path}"
    upgrade(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    channels = {name: RecordingChannel(name, out_dir / "outbox") for name in config.channels}
    step = timedelta(minutes=config.bucket_minutes)
    queue = InlineQueue()
    ctx = Context(
        sessions=sessions,
        config=config,
        send=queue.send,
        base_url="http://127.0.0.1:8025",
        # Links in a replay's messages are never followed: a fixed key keeps outputs stable.
        secret_key="replay-secret-not-for-links",  # noqa: S106
        outbox_dir=out_dir / "outbox",
        channels=channels,
        online=False,  # a replay never polls a platform or pings a heartbeat
        # Its pushes carry the file reader's mentions, each already through the edge normaliser.
        extra={PUSH_NORMALISED: True},
    )
    queue.ctx = ctx

    # 3. The simulated clock.
    first, last = scan.first, scan.last
    ticks = list(_ticks(first, last + tail, step))
    pending: list[Mention] = []  # read from the stream, not yet in the past

    def feed(now: datetime) -> None:
        """Hand the mentions written before `now` to ingest: one push, per topic its mentions."""
        by_topic: dict[str, list[dict[str, Any]]] = {}
        while True:
            if not pending:
                m = next(stream, None)
                if m is None:
                    break
                pending.append(m)
            m = pending[0]
            if m.created_at >= now:
                break
            pending.pop()
            by_topic.setdefault(m.topic or "default", []).append(mention_to_json(m))
        if by_topic:
            queue.send("ingest.push", [by_topic], now)

    try:
        simulate(
            config,
            queue,
            tqdm(
                ticks,
                desc="replay",
                unit="tick",
                file=err,
                disable=progress is False if progress is not None else None,
                leave=False,
            ),
            before_tick=feed,
            after_tick=on_tick,
        )

        # 4. Outputs.
        with sessions() as session:
            _write_outputs(session, out_dir, result)
            for inc in result.incidents:
                packet = build_packet(session, inc["id"], ticks[-1], config.timezone)
                result.packets[inc["id"]] = write_packet(
                    out_dir / "packets" / str(inc["id"]), packet
                )
            # The weekly summaries the beat would have sent, for every week the clock touched.
            reports = replay_reports(session, config, first, ticks[-1])
            result.reports = write_replay_reports(reports, out_dir)
            result.last_report = reports[-1] if reports else None
    finally:
        engine.dispose()
    return result


def _with_topic(m: Mention, topic: str) -> Mention:
    from dataclasses import replace

    return replace(m, topic=topic)


@dataclass
class _Scan:
    count: int = 0
    errors: list[Any] = field(default_factory=list)
    topics: set[str] = field(default_factory=set)
    first: datetime | None = None
    last: datetime | None = None
    #: Every mention at or after the one before it (the file can be streamed as it is).
    ordered: bool = True


def _items(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, mention or `LineError`) of a JSONL or CSV file, as `tocsin import` reads it."""
    from worker.sources.jsonl import iter_csv_numbered, iter_jsonl_numbered

    if path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8-sig", errors="replace", newline="") as f:
            yield from iter_csv_numbered(f)
    else:
        with path.open("rb") as fb:
            yield from iter_jsonl_numbered(fb)


def _mentions(path: Path) -> Iterator[Mention]:
    """The file's good mentions in file order, each with a topic ("default" when it has none)."""
    from worker.sources.jsonl import LineError

    for _, item in _items(path):
        if not isinstance(item, LineError):
            yield item if item.topic else _with_topic(item, "default")


def _scan(path: Path) -> _Scan:
    """One pass over the file keeping only what the replay needs before it starts."""
    from worker.sources.jsonl import LineError

    scan = _Scan()
    for _, item in _items(path):
        if isinstance(item, LineError):
            scan.errors.append(item)
            continue
        scan.count += 1
        scan.topics.add(item.topic or "default")
        at = item.created_at
        if scan.last is not None and at < scan.last:
            scan.ordered = False
        scan.first = at if scan.first is None or at < scan.first else scan.first
        scan.last = at if scan.last is None or at > scan.last else scan.last
    return scan


def _write_outputs(session: Any, out_dir: Path, result: ReplayResult) -> None:
    with (out_dir / "signals.jsonl").open("w", encoding="utf-8") as f:
        for s in session.scalars(select(SignalRow).order_by(SignalRow.at, SignalRow.id)):
            f.write(
                json.dumps(
                    {
                        "id": s.id,
                        "topic": s.topic,
                        "kind": s.kind,
                        "at": _iso(s.at),
                        "score": s.score,
                        "severity": SEV.get(s.severity, f"SEV{s.severity}"),
                        "explanation": s.explanation,
                        "evidence": s.evidence,
                        "top_mentions": s.top_mentions,
                        "incident": s.incident_id,
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
            result.signals += 1
    with (out_dir / "incidents.jsonl").open("w", encoding="utf-8") as f:
        for inc in session.scalars(select(Incident).order_by(Incident.opened_at, Incident.id)):
            row = {
                "id": inc.id,
                "topic": inc.topic,
                "title": inc.title,
                "opened_at": _iso(inc.opened_at),
                "acknowledged_at": _iso(inc.acknowledged_at),
                "resolved_at": _iso(inc.resolved_at),
                "severity": SEV.get(inc.severity, f"SEV{inc.severity}"),
                "kinds": list(inc.kinds),
                "peak": inc.peak,
                "state": inc.state,
            }
            result.incidents.append(row)
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    with (out_dir / "notifications.jsonl").open("w", encoding="utf-8") as f:
        for n in session.scalars(
            select(Notification)
            .where(Notification.sent_at.is_not(None))
            .order_by(Notification.sent_at, Notification.id)
        ):
            row = {
                "incident": n.incident_id,
                "step": n.step,
                "recipient": n.recipient,
                "role": n.role,
                "channel": n.channel,
                "sent_at": _iso(n.sent_at),
            }
            result.notifications.append(row)
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
