"""`tocsin demo`: replay the shipped Lumio scenario and tell what happened in a few lines."""

from __future__ import annotations

import sys
from collections import Counter
from datetime import datetime
from importlib import resources
from pathlib import Path

from tocsin.replay import ReplayResult, replay
from worker.config import default_config
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
            index = result.packets[inc["id"]]
            lines.append(f"  Briefing packet: {index}")
            pdf = index.parent / "packet.pdf"
            if pdf.exists():
                lines.append(f"  Briefing packet (PDF): {pdf}")
    lines.append(f"Outputs: {result.out_dir}/(signals|incidents|notifications).jsonl")
    return lines


def write_extras(result: ReplayResult) -> list[str]:
    """Packet versions and the last replayed week's summary in full (with its text and PDF);
    lines to print."""
    from alerts.packets import list_versions, render_packet_html
    from alerts.packets.versions import get_version
    from alerts.reports.build import write_report
    from worker.storage.db import make_engine, make_sessionmaker

    if result.first is None or result.last is None:
        return []
    lines = []
    engine = make_engine(f"sqlite:///{result.out_dir / 'replay.db'}")
    try:
        with make_sessionmaker(engine)() as session:
            for inc in result.incidents:
                versions = list_versions(session, inc["id"])
                folder = result.out_dir / "packets" / str(inc["id"]) / "versions"
                for v in versions:
                    content = get_version(session, inc["id"], v["version"])
                    if content is not None:
                        folder.mkdir(parents=True, exist_ok=True)
                        name = f"v{v['version']}.html"
                        (folder / name).write_text(
                            render_packet_html(content, version=v["version"]), encoding="utf-8"
                        )
                if versions:
                    lines.append(f"  {len(versions)} packet version(s) kept: {folder}/")
            if result.last_report is not None:  # the replay's last week, built once
                paths = write_report(result.last_report, result.out_dir / "reports")
                pdf = f" (PDF: {paths['pdf']})" if "pdf" in paths else ""
                lines.append(f"Weekly summary: {paths['html']}{pdf}")
    finally:
        engine.dispose()
    return lines


def run_demo(out: Path) -> int:
    out = out.resolve()
    with resources.as_file(resources.files("tocsin.data") / SCENARIO) as path:
        from worker.sources.jsonl import read_mentions_file

        mentions, _ = read_mentions_file(path)
        config = default_config(sorted({m.topic or "default" for m in mentions}))
        # Packet versions are kept by the job table's `alerts.packets.refresh`, as live.
        result = replay(path, out, config)
    lines = summarise(result)
    extras = write_extras(result)
    for line in lines[:-1] + extras + lines[-1:]:
        print(line)
    sys.stdout.flush()
    return 0
