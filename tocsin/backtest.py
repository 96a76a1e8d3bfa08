"""`tocsin backtest FILE --config tocsin.toml [--events labels.json]`: tune before trusting.

1. Replays FILE through the whole pipeline on a simulated clock (`tocsin.replay`, nothing is sent:
   every channel is a recorder), with the topics, detection thresholds and policies of the config.
2. Prints, per topic, every alert it would have raised — an alert is an incident opened, since one
   event makes one incident whose later signals are updates, not pages — with its time, highest
   severity and the first signal's sentence; then alerts per week over the file's span.
3. Given labelled events, scores the alerts: an alert is a true positive when it opens inside an
   event of its topic (between `start` and `end`); precision = true alerts / alerts, recall =
   events with at least one alert / events, and the detection delay of each event found
   (its first alert − its start).

Events file (JSON), either a list of objects

    [{"topic": "acme", "start": "2026-03-06T09:00:00Z", "end": "2026-03-06T18:00:00Z",
      "name": "battery recall"}]

or NAB's layout, topic → list of [start, end]. Times without an offset are UTC.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from worker.config import Config
from worker.localtime import show


class EventsError(ValueError):
    """The events file cannot be read; the message says where and why."""


@dataclass(frozen=True)
class Event:
    topic: str
    start: datetime
    end: datetime
    name: str = ""


@dataclass(frozen=True)
class Alert:
    topic: str
    at: datetime
    severity: str
    why: str
    incident: int


@dataclass
class TopicReport:
    topic: str
    alerts: list[Alert]
    weeks: float
    events: list[Event]
    found: dict[int, timedelta]  # event index → delay of its first alert
    true_alerts: int

    @property
    def per_week(self) -> float:
        return len(self.alerts) / self.weeks if self.weeks else float(len(self.alerts))

    @property
    def precision(self) -> float | None:
        return self.true_alerts / len(self.alerts) if self.alerts else None

    @property
    def recall(self) -> float | None:
        return len(self.found) / len(self.events) if self.events else None


def _time(value: object, where: str) -> datetime:
    if not isinstance(value, str):
        raise EventsError(f"{where}: expected an ISO 8601 time string, got {value!r}")
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        raise EventsError(f"{where}: {value!r} is not an ISO 8601 time") from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def read_events(path: Path) -> list[Event]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise EventsError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg})") from None
    items: list[tuple[str, dict[str, Any] | list[Any]]] = []
    if isinstance(data, dict):
        for topic, windows in data.items():
            if not isinstance(windows, list):
                raise EventsError(f"{path}: {topic!r}: expected a list of [start, end] pairs")
            items += [(str(topic), w) for w in windows]
    elif isinstance(data, list):
        items = [("", w) for w in data]
    else:
        raise EventsError(f"{path}: expected a list of events or a topic → windows object")
    events: list[Event] = []
    for n, (topic, item) in enumerate(items, start=1):
        where = f"{path}: event {n}"
        if isinstance(item, list) and len(item) == 2:
            start, end, name = _time(item[0], where), _time(item[1], where), ""
        elif isinstance(item, dict):
            topic = str(item.get("topic") or topic)
            if "start" not in item or "end" not in item:
                raise EventsError(f"{where}: needs 'start' and 'end'")
            start, end = _time(item["start"], f"{where} start"), _time(item["end"], f"{where} end")
            name = str(item.get("name", ""))
        else:
            raise EventsError(f"{where}: expected {{topic, start, end}} or [start, end]")
        if not topic:
            raise EventsError(f"{where}: no topic")
        if end < start:
            raise EventsError(f"{where}: ends before it starts")
        events.append(Event(topic, start, end, name))
    return events


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def backtest(
    path: Path,
    config: Config,
    events: Sequence[Event] = (),
    *,
    out_dir: Path | None = None,
    err: TextIO = sys.stderr,
) -> list[TopicReport]:
    from tocsin.replay import replay

    with tempfile.TemporaryDirectory(prefix="tocsin-backtest-") as tmp:
        result = replay(path, out_dir or Path(tmp), config, err=err, progress=False)
        signals = _read_jsonl(result.out_dir / "signals.jsonl")
    first_why: dict[int, str] = {}
    for s in signals:
        if s.get("incident") is not None:
            first_why.setdefault(int(s["incident"]), str(s["explanation"]))
    span = (
        (result.last - result.first).total_seconds() / (7 * 86400)
        if result.first and result.last
        else 0.0
    )
    topics = sorted(set(result.topics) | {e.topic for e in events})
    reports = []
    for topic in topics:
        alerts = [
            Alert(
                topic,
                _time(inc["opened_at"], "incident"),
                str(inc["severity"]),
                first_why.get(int(inc["id"]), str(inc["title"])),
                int(inc["id"]),
            )
            for inc in result.incidents
            if inc["topic"] == topic
        ]
        mine = [e for e in events if e.topic == topic]
        found: dict[int, timedelta] = {}
        true_alerts = 0
        for a in alerts:
            hits = [i for i, e in enumerate(mine) if e.start <= a.at <= e.end]
            true_alerts += bool(hits)
            for i in hits:
                found.setdefault(i, a.at - mine[i].start)
        reports.append(TopicReport(topic, alerts, span, mine, found, true_alerts))
    return reports


def _minutes(d: timedelta) -> str:
    m = d.total_seconds() / 60
    return f"{m:.0f} min" if m < 120 else f"{m / 60:.1f} h"


def render(reports: Sequence[TopicReport], labelled: bool, tz: str = "UTC") -> str:
    """The report a person reads; alert times in the zone `tz` (`[tocsin] timezone`)."""
    lines: list[str] = []
    for r in reports:
        lines.append(
            f"{r.topic}: {len(r.alerts)} alert(s) over {r.weeks * 7:.1f} days "
            f"({r.per_week:.1f} per week)"
        )
        for a in r.alerts:
            at = show(a.at, tz, "%Y-%m-%d %H:%M")
            lines.append(f"  {at}  {a.severity}  #{a.incident}  {a.why}")
        if labelled:
            if r.events:
                delays = list(r.found.values())
                lines.append(
                    "  precision "
                    + (f"{r.precision:.2f}" if r.precision is not None else "n/a (no alerts)")
                    + f" ({r.true_alerts}/{len(r.alerts)} alerts inside an event), "
                    f"recall {r.recall:.2f} ({len(r.found)}/{len(r.events)} events found)"
                )
                if delays:
                    median = timedelta(seconds=statistics.median(d.total_seconds() for d in delays))
                    lines.append(
                        f"  detection delay: median {_minutes(median)}, "
                        f"worst {_minutes(max(delays))}"
                    )
                for i, e in enumerate(r.events):
                    got = r.found.get(i)
                    label = e.name or f"{e.start:%Y-%m-%d %H:%M}"
                    lines.append(
                        f"  event {label}: "
                        + (f"found after {_minutes(got)}" if got is not None else "MISSED")
                    )
            else:
                lines.append("  no labelled events for this topic")
    return "\n".join(lines)


def backtest_main(argv: Sequence[str]) -> int:
    from worker.config import ConfigError, load_config

    p = argparse.ArgumentParser(
        prog="tocsin backtest",
        description="Replay past mentions with a config's thresholds and report the alerts it "
        "would have raised; with --events, their precision, recall and delay.",
    )
    p.add_argument("file", type=Path, help="mentions file (Mentions JSONL or CSV)")
    p.add_argument("--config", type=Path, required=True, help="tocsin.toml to test")
    p.add_argument("--events", type=Path, help="labelled events (JSON), see docs")
    p.add_argument("--out", type=Path, help="keep the replay's files here (default: discarded)")
    args = p.parse_args(list(argv))
    try:
        config = load_config(args.config)
        events = read_events(args.events) if args.events else []
        if not args.file.exists():
            raise FileNotFoundError(args.file)
        reports = backtest(args.file, config, events, out_dir=args.out)
    except (ConfigError, EventsError) as exc:
        print(f"tocsin backtest: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"tocsin backtest: {exc.filename or exc}: file not found", file=sys.stderr)
        return 2
    print(render(reports, labelled=args.events is not None, tz=config.timezone))
    return 0
