"""`tocsin replay` and `tocsin demo`: the whole pipeline on a simulated clock, as DESIGN.md specifies."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.conftest import DemoRun

START = datetime(2026, 9, 7, tzinfo=UTC)  # a Monday


def scenario(path: Path, *, bad_line: int | None = None) -> None:
    """Two calm days (a few posts an hour) then a burst of angry posts from many authors."""
    lines = []
    t, i = START, 0
    while t < START + timedelta(days=2):
        for k in range(1 + i % 3):
            lines.append(
                json.dumps(
                    {
                        "platform": "mastodon",
                        "id": f"c{i}-{k}",
                        "created_at": t.isoformat(),
                        "text": "Acme delivery arrived, nice packaging",
                        "author": f"fan{(i + k) % 300}",
                        "topic": "acme",
                    }
                )
            )
        i += 1
        t += timedelta(minutes=20)
    burst = START + timedelta(days=2, hours=1)
    for j in range(150):
        lines.append(
            json.dumps(
                {
                    "platform": "bluesky",
                    "id": f"b{j}",
                    "created_at": (burst + timedelta(seconds=8 * j)).isoformat(),
                    "text": "Acme leaked my data, this is a disgrace, I am furious #AcmeBreach",
                    "author": f"angry{j}",
                    "author_followers": 300,
                    "topic": "acme",
                }
            )
        )
    if bad_line is not None:
        lines.insert(bad_line - 1, '{"platform": "mastodon", "id": 1, "text": ')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def tocsin(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tocsin.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        check=False,
    )


def read_jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def test_replay_reports_bad_line_and_processes_the_rest(tmp_path: Path) -> None:
    """A malformed line is reported with its number; the rest opens one incident that escalates."""
    src = tmp_path / "mentions.jsonl"
    scenario(src, bad_line=3)
    out = tmp_path / "out"
    proc = tocsin("replay", str(src), "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"{src}:3: skipped:" in proc.stderr
    assert "1 lines skipped" in proc.stdout

    incidents = read_jsonl(out / "incidents.jsonl")
    assert len(incidents) == 1
    inc = incidents[0]
    assert inc["topic"] == "acme"
    assert inc["severity"] in ("SEV1", "SEV2", "SEV3", "SEV4")
    assert set(inc) >= {
        "id",
        "topic",
        "opened_at",
        "acknowledged_at",
        "resolved_at",
        "severity",
        "kinds",
        "peak",
    }
    opened = datetime.fromisoformat(str(inc["opened_at"]))
    assert START + timedelta(days=2, hours=1) <= opened <= START + timedelta(days=2, hours=2)

    notes = read_jsonl(out / "notifications.jsonl")
    roles = {n["role"] for n in notes}
    assert {"on-call", "leadership"} <= roles, notes
    first_leader = min(
        datetime.fromisoformat(str(n["sent_at"])) for n in notes if n["role"] == "leadership"
    )
    first_oncall = min(
        datetime.fromisoformat(str(n["sent_at"])) for n in notes if n["role"] == "on-call"
    )
    # "Acme leaked my data" × 150 in 20 minutes: the first 5 minutes already page (15-minute
    # window); as the burst grows it becomes SEV1 (ratio ≥ 10, crisis words), and the default
    # policy (severe_at = 1) then reaches leadership at once, at the next tick, instead of after
    # the 15 unacknowledged minutes (that wait is tested in tests/alerts).
    assert inc["severity"] == "SEV1"
    assert first_oncall == START + timedelta(days=2, hours=1, minutes=5)
    assert first_oncall <= first_leader < first_oncall + timedelta(minutes=15)
    assert all(
        set(n) >= {"incident", "step", "recipient", "role", "channel", "sent_at"} for n in notes
    )

    signals = read_jsonl(out / "signals.jsonl")
    assert signals and all(s["topic"] == "acme" for s in signals)
    assert any("crisis words up (“leaked” ×" in str(s["explanation"]) for s in signals)
    assert (out / "packets" / str(inc["id"]) / "index.html").exists()


def test_replay_of_calm_data_opens_nothing(tmp_path: Path) -> None:
    """Calm days alone raise no incident and page nobody; the only messages are the weekly
    summaries to leadership, which a quiet week still gets (that is their point)."""
    src = tmp_path / "calm.jsonl"
    scenario(src)
    text = src.read_text(encoding="utf-8").splitlines()
    src.write_text(
        "\n".join(line for line in text if '"bluesky"' not in line) + "\n", encoding="utf-8"
    )
    out = tmp_path / "out"
    proc = tocsin("replay", str(src), "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert read_jsonl(out / "incidents.jsonl") == []
    notes = read_jsonl(out / "notifications.jsonl")
    assert [n for n in notes if n["incident"] is not None] == []
    assert all(n["role"] == "report" and n["recipient"] == "leadership" for n in notes), notes


def test_demo_tells_the_story_and_writes_the_packet(demo_run: DemoRun) -> None:
    """`tocsin demo` prints a few readable lines with the packet's path, and the packet exists.
    (The session's one `tocsin demo` subprocess, shared with the golden tests: tests/conftest.py.)"""
    proc = demo_run
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("Replayed 2,084 mentions of lumio")
    incidents = [line for line in lines if line.startswith("Incident #")]
    # Five calm days then one crisis: exactly one incident, opened on the Friday afternoon.
    assert len(incidents) == 1, proc.stdout
    assert incidents[0].startswith("Incident #1 SEV") and "Fri 06 Nov 14:" in incidents[0]
    assert any("paged on-call" in line for line in lines)
    packet_line = next(line for line in lines if "Briefing packet:" in line)
    packet = Path(packet_line.split("Briefing packet:", 1)[1].strip())
    assert packet.exists()
    assert len(lines) <= 12


def test_replay_of_a_file_out_of_time_order_equals_the_ordered_one(tmp_path: Path) -> None:
    """A time-ordered file is streamed; one out of order is read whole and sorted: both give the
    same signals, incidents and notifications (ties keep file order either way)."""
    from tocsin.replay import replay

    ordered = tmp_path / "ordered.jsonl"
    scenario(ordered)
    lines = ordered.read_text(encoding="utf-8").splitlines()
    shuffled = tmp_path / "shuffled.jsonl"
    # The burst first, then the calm days: out of order, ties within each part unchanged.
    burst = [x for x in lines if '"bluesky"' in x]
    calm = [x for x in lines if '"bluesky"' not in x]
    shuffled.write_text("\n".join(burst + calm) + "\n", encoding="utf-8")
    a = replay(ordered, tmp_path / "a", progress=False)
    b = replay(shuffled, tmp_path / "b", progress=False)
    assert (a.mentions, a.first, a.last) == (b.mentions, b.first, b.last)
    assert a.incidents, "the scenario's burst opens an incident"
    for name in ("signals", "incidents", "notifications"):
        assert read_jsonl(tmp_path / "a" / f"{name}.jsonl") == read_jsonl(
            tmp_path / "b" / f"{name}.jsonl"
        )
