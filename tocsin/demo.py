"""`tocsin demo`: replay the shipped Lumio scenario and tell what happened in a few lines."""

from __future__ import annotations

import sys
from collections import Counter
from datetime import datetime
from importlib import resources
from pathlib import Path

from tocsin.replay import ReplayResult, replay
from worker.localtime import local, show

SCENARIO = "demo_lumio.jsonl"


def _when(iso: str | None, tz: str = "UTC") -> str:
    if not iso:
        return "—"
    return show(datetime.fromisoformat(iso), tz)


def summarise(result: ReplayResult) -> list[str]:
    """The few readable lines the demo prints (also used by the tests)."""
    if result.first is None or result.last is None:
        return [f"No mentions to replay ({result.skipped} bad lines skipped)."]
    first = local(result.first, result.timezone)
    lines = [
        f"Replayed {result.mentions:,} mentions of {', '.join(result.topics)} from "
        f"{first:%a %d %b} to {show(result.last, result.timezone)} "
        f"(simulated clock, {result.skipped} bad lines skipped).",
    ]
    if not result.incidents:
        lines.append("No incident: a quiet period.")
    for inc in result.incidents:
        kinds = ", ".join(k.replace("_", " ") for k in inc["kinds"])
        lines.append(
            f"Incident #{inc['id']} {inc['severity']} on '{inc['topic']}' opened "
            f"{_when(inc['opened_at'], result.timezone)}: {kinds}."
        )
        notes = [n for n in result.notifications if n["incident"] == inc["id"]]
        by_role = Counter(n["role"] for n in notes)
        for role in dict.fromkeys(n["role"] for n in notes):
            first = min(n["sent_at"] for n in notes if n["role"] == role)
            lines.append(
                f"  paged {role} at {_when(first, result.timezone)} ({by_role[role]} notification(s))."
            )
        state = "acknowledged" if inc["acknowledged_at"] else "not acknowledged"
        ended = (
            f", resolved {_when(inc['resolved_at'], result.timezone)}" if inc["resolved_at"] else ""
        )
        lines.append(f"  {state}{ended}.")
        if inc["id"] in result.packets:
            lines.append(f"  Briefing packet: {result.packets[inc['id']]}")
    lines.append(f"Outputs: {result.out_dir}/(signals|incidents|notifications).jsonl")
    return lines


def run_demo(out: Path) -> int:
    with resources.as_file(resources.files("tocsin.data") / SCENARIO) as path:
        result = replay(path, out.resolve())
    for line in summarise(result):
        print(line)
    sys.stdout.flush()
    return 0
