"""`tocsin backtest`: the alerts a config would have raised, and how they score against labels."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from tests.core.test_replay import START, scenario, tocsin

CONFIG = """
[[topics]]
name = "acme"
sensitivity = "balanced"
"""


def setup(tmp_path: Path) -> tuple[Path, Path]:
    src = tmp_path / "mentions.jsonl"
    scenario(src)  # two calm days, then 150 angry posts from 150 authors at day 2, 01:00
    config = tmp_path / "tocsin.toml"
    config.write_text(CONFIG, encoding="utf-8")
    return src, config


def test_backtest_lists_alerts_and_scores_them_against_events(tmp_path: Path) -> None:
    src, config = setup(tmp_path)
    burst = START + timedelta(days=2, hours=1)
    events = tmp_path / "events.json"
    events.write_text(
        json.dumps(
            [
                {
                    "topic": "acme",
                    "start": burst.isoformat(),
                    "end": (burst + timedelta(hours=2)).isoformat(),
                    "name": "data leak",
                },
                # NAB's layout works too; this one is a day with nothing in the data.
                {"topic": "acme", "start": "2026-09-08 10:00", "end": "2026-09-08 11:00"},
            ]
        ),
        encoding="utf-8",
    )
    proc = tocsin(
        "backtest", str(src), "--config", str(config), "--events", str(events), cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("acme: 1 alert(s) over 2.1 days")
    alert = lines[1]
    assert alert.startswith(f"  {burst:%Y-%m-%d} 01:") and " SEV" in alert
    assert "Mentions of acme" in alert and "distinct authors" in alert  # the why, quotable
    assert (
        "precision 1.00 (1/1 alerts inside an event), recall 0.50 (1/2 events found)" in proc.stdout
    )
    assert "event data leak: found after" in proc.stdout
    assert "event 2026-09-08 10:00: MISSED" in proc.stdout


def test_backtest_without_events_reports_alerts_per_week(tmp_path: Path) -> None:
    src, config = setup(tmp_path)
    config.write_text('[tocsin]\ntimezone = "Europe/Paris"\n' + CONFIG, encoding="utf-8")
    proc = tocsin("backtest", str(src), "--config", str(config), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    # Times are shown in the team's zone: the burst at 01:00 UTC is 03:00 in Paris (summer).
    burst = START + timedelta(days=2, hours=1)
    alert = proc.stdout.splitlines()[1]
    assert alert.startswith(f"  {burst:%Y-%m-%d} 03:") and " CEST  SEV" in alert, alert
    # 1 alert over 2 days 1 h 20 min of data = 3.4 a week: a rate the team can compare with
    # how many pages a week they are willing to take.
    assert "(3.4 per week)" in proc.stdout.splitlines()[0]
    assert "precision" not in proc.stdout


def test_backtest_reports_a_broken_events_file_and_a_broken_config(tmp_path: Path) -> None:
    src, config = setup(tmp_path)
    bad = tmp_path / "events.json"
    bad.write_text('[{"topic": "acme", "start": "2026-09-09T01:00:00Z"}]', encoding="utf-8")
    proc = tocsin("backtest", str(src), "--config", str(config), "--events", str(bad), cwd=tmp_path)
    assert proc.returncode == 2
    assert f"{bad}: event 1: needs 'start' and 'end'" in proc.stderr
    bad.write_text('{"acme": [["2026-09-09", "x"]', encoding="utf-8")
    proc = tocsin("backtest", str(src), "--config", str(config), "--events", str(bad), cwd=tmp_path)
    assert proc.returncode == 2 and "not valid JSON" in proc.stderr
    config.write_text("[[topics]]\nname = 3\n", encoding="utf-8")
    proc = tocsin("backtest", str(src), "--config", str(config), cwd=tmp_path)
    assert proc.returncode == 2 and "tocsin backtest:" in proc.stderr and "name" in proc.stderr
