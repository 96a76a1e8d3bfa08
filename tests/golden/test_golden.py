"""The demo scenario end to end: `make demo` prints the packet (and its PDF) and the weekly
summary; the packet and the weekly summary match their golden files (JSON exactly, HTML by
structure); the weekly counts equal a count made here, independently, from the replayed file.

Regenerate the golden files with `python -m tests.golden.regenerate` after a deliberate change.
"""

from __future__ import annotations

import json
from datetime import datetime
from importlib import resources
from pathlib import Path

import pytest
from pypdf import PdfReader

from tests.conftest import DemoRun
from tests.golden.regenerate import HERE, PACKET, WEEKLY, goldens


@pytest.fixture
def demo(demo_run: DemoRun) -> tuple[Path, str]:
    """The session's one `tocsin demo` run (tests/conftest.py), read only."""
    assert demo_run.returncode == 0, demo_run.stderr
    return demo_run.out, demo_run.stdout


def test_demo_prints_the_packet_its_pdf_and_the_weekly_summary(demo: tuple[Path, str]) -> None:
    out, printed = demo
    assert f"Briefing packet: {out / PACKET / 'index.html'}" in printed
    assert f"Briefing packet (PDF): {out / PACKET / 'packet.pdf'}" in printed
    assert f"Weekly summary: {out / WEEKLY}.html (PDF: {out / WEEKLY}.pdf)" in printed
    packet = json.loads((out / PACKET / "packet.json").read_text(encoding="utf-8"))
    pdf = " ".join(
        " ".join(p.extract_text().split()) for p in PdfReader(out / PACKET / "packet.pdf").pages
    )
    assert " ".join(packet["answers"]["size"].split()) in pdf


@pytest.mark.parametrize(
    "name", ["demo_packet.json", "demo_weekly.json", "demo_packet.outline", "demo_weekly.outline"]
)
def test_demo_output_matches_its_golden_file(demo: tuple[Path, str], name: str) -> None:
    out, _ = demo
    expected = (HERE / name).read_text(encoding="utf-8")
    actual = goldens(out)[name]
    if name.endswith(".json"):
        assert json.loads(actual) == json.loads(expected), (
            "run `python -m tests.golden.regenerate` if the change is intended"
        )
    else:
        assert actual == expected


def test_weekly_counts_equal_an_independent_count_of_the_replayed_file(
    demo: tuple[Path, str],
) -> None:
    """Each (topic, platform, id) once, inside the week's bounds (UTC: the demo has no config)."""
    out, _ = demo
    report = json.loads((out / f"{WEEKLY}.json").read_text(encoding="utf-8"))
    start, end = datetime.fromisoformat(report["start"]), datetime.fromisoformat(report["end"])
    seen: dict[tuple[str, str, str], dict[str, str]] = {}
    source = resources.files("tocsin.data") / "demo_lumio.jsonl"
    for line in source.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        m = json.loads(line)
        at = datetime.fromisoformat(m["created_at"])
        if start <= at < end:
            seen.setdefault((m.get("topic") or "default", m["platform"], str(m["id"])), m)
    (topic,) = report["topics"]
    assert report["partial"] is True  # the replay ends on Friday night
    assert topic["mentions"] == len(seen) > 0
    assert topic["distinct_authors"] == len({m["author"] for m in seen.values() if m.get("author")})
    incidents = [json.loads(x) for x in (out / "incidents.jsonl").read_text().splitlines()]
    assert [i["id"] for i in topic["incidents"]] == [i["id"] for i in incidents]
