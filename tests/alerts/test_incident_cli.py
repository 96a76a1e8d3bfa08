"""`tocsin incident open`, `incidents --json`, `snooze`, `note`, `resolve`, `reassign` and
`oncall` through `tocsin.cli.main`, against a real SQLite database (tests/alerts/test_cli_ack.py
runs `ack` and `incidents` through the installed entry point in a subprocess)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.alerts.scenario import CONFIG, make_runtime
from tocsin.cli import main
from worker.config import parse_config
from worker.runtime import Runtime, set_runtime
from worker.storage.models import IncidentEvent

SCHEDULE = """
[people.bob]
name = "Bob"
email = "bob@example.com"

[schedules.primary]
timezone = "Europe/Paris"
rotation = "weekly"
handoff = "Mon 09:00"
start = "2026-03-02"
members = ["alice", "bob"]
[[schedules.primary.overrides]]
who = "bob"
start = "2026-03-07T18:00"
end = "2026-03-08T20:00"
"""


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = make_runtime(tmp_path)
    runtime = dataclasses.replace(runtime, config=parse_config(CONFIG + SCHEDULE))
    set_runtime(runtime)
    yield runtime
    set_runtime(None)
    runtime.dispose()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_open_act_and_list_from_the_terminal(
    rt: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys, "incident", "open", "--topic", "acme", "--severity", "2", "--title", "Recall"
    )
    assert code == 0
    inc = int(out.strip())
    code, out, err = run(
        capsys, "incident", "open", "--topic", "acme", "--severity", "2", "--title", "Recall"
    )
    assert (code, int(out), "already has open incident" in err) == (0, inc, True)
    assert run(capsys, "snooze", str(inc), "--minutes", "30", "--by", "alice")[1].startswith(
        f"incident {inc}: done\nescalation resumes "
    )
    assert run(capsys, "note", str(inc), "Statement drafted", "--by", "alice")[:2] == (
        0,
        f"incident {inc}: done\n",
    )
    assert run(capsys, "ack", str(inc), "--by", "bob")[:2] == (0, f"incident {inc}: acknowledged\n")
    code, out, _ = run(capsys, "incidents", "--json")
    (row,) = json.loads(out)
    assert list(row) == [
        "id",
        "topic",
        "title",
        "state",
        "severity",
        "opened_at",
        "acknowledged_at",
        "acknowledged_by",
        "acknowledged_via",
        "resolved_at",
    ]
    assert (row["id"], row["state"], row["severity"], row["title"]) == (
        inc,
        "acknowledged",
        "SEV2",
        "Recall",
    )
    assert (row["acknowledged_by"], row["acknowledged_via"]) == ("bob", "cli")
    assert run(capsys, "reassign", str(inc), "--to", "nobody")[:2] == (
        1,
        f"incident {inc}: unknown_person\n",
    )
    assert run(capsys, "resolve", str(inc), "--by", "bob")[:2] == (0, f"incident {inc}: done\n")
    assert run(capsys, "resolve", str(inc))[:2] == (1, f"incident {inc}: resolved\n")
    assert json.loads(run(capsys, "incidents", "--json")[1]) == []
    (resolved,) = json.loads(run(capsys, "incidents", "--all", "--json")[1])
    assert resolved["state"] == "resolved" and resolved["resolved_at"]
    with rt.sessions() as s:
        vias = [
            (e.kind, e.actor, e.detail.get("via"))
            for e in s.scalars(select(IncidentEvent).where(IncidentEvent.actor.is_not(None)))
        ]
    assert [v for v in vias if v[0] != "opened_by_hand_again"] == [
        ("opened", vias[0][1], "cli"),
        ("snoozed", "alice", "cli"),
        ("note", "alice", "cli"),
        ("acknowledged", "bob", "cli"),
        ("resolved", "bob", "cli"),
    ]


def test_bad_input_is_one_line_and_exit_2(rt: Runtime, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "snooze", "1", "--minutes", "0")
    assert code == 2 and err.strip() == "tocsin snooze: minutes must be between 1 and 10080, got 0"
    code, _, err = run(capsys, "oncall", "--at", "2026-03-07T19:00")
    assert code == 2 and "--at: give the offset too" in err
    code, _, err = run(
        capsys, "incident", "open", "--topic", "acme", "--severity", "2", "--title", " "
    )
    assert code == 2 and "the title is empty" in err


def test_oncall_now_and_at_an_instant(rt: Runtime, capsys: pytest.CaptureFixture[str]) -> None:
    assert json.loads(run(capsys, "oncall", "--json", "--at", "2026-03-03T12:00+01:00")[1]) == {
        "primary": "alice"
    }
    # Saturday 7 March 19:00 Paris: bob's override (alice's week otherwise).
    assert json.loads(run(capsys, "oncall", "--json", "--at", "2026-03-07T18:00Z")[1]) == {
        "primary": "bob"
    }
    code, out, _ = run(capsys, "oncall", "--at", "2026-03-08T20:00+01:00")
    assert (code, out) == (0, "primary: alice (Alice) until Mon 09 Mar 09:00 CET\n")
