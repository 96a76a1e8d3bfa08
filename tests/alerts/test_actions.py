"""Incident actions: acknowledge, snooze, resolve, note, reassign, open by hand. Each is audited
(who, when, through which channel) and idempotent. Real SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from alerts.service import (
    ActionResult,
    acknowledge,
    add_note,
    get_incident,
    list_incidents,
    open_by_hand,
    reassign,
    resolve_by_hand,
    snooze,
)
from tests.alerts.test_paging import LEADERSHIP, pages, tick
from tests.alerts.test_service import T0, raise_signals, signal
from worker.config import Config, parse_config
from worker.storage.models import Incident, IncidentEvent, Notification


@pytest.fixture
def config() -> Config:
    return parse_config(LEADERSHIP)


def audit_trail(sessions: sessionmaker[Session], inc_id: int) -> list[tuple[str, str | None, str]]:
    """(kind, who, via) of every action on the incident's timeline."""
    with sessions() as s:
        rows = s.scalars(
            select(IncidentEvent)
            .where(IncidentEvent.incident_id == inc_id, IncidentEvent.actor.is_not(None))
            .order_by(IncidentEvent.id)
        )
        return [(e.kind, e.actor, e.detail.get("via", "")) for e in rows]


def test_snooze_pauses_the_escalation_and_it_resumes_on_time(
    sessions: sessionmaker[Session], config: Config
) -> None:
    [inc] = raise_signals(sessions, config, signal(T0))
    tick(sessions, config, T0)  # alice, step 0
    with sessions.begin() as s:
        got = snooze(s, inc, minutes=30, by="alice", via="cli", now=T0 + timedelta(minutes=2))
    assert got is ActionResult.DONE
    # Leadership would have been due at +15: the snooze holds it.
    assert tick(sessions, config, T0 + timedelta(minutes=16)) == 0
    assert tick(sessions, config, T0 + timedelta(minutes=31, seconds=59)) == 0
    assert [(step, who) for step, who, _, _ in pages(sessions)] == [(0, "alice")]
    # At +32 the snooze is over: triggered again, alice paged again now …
    assert tick(sessions, config, T0 + timedelta(minutes=32)) == 1
    with sessions() as s:
        row = s.get(Incident, inc)
        assert row is not None and row.state == "triggered" and row.snoozed_until is None
    assert [(step, who) for step, who, _, _ in pages(sessions)] == [(0, "alice"), (0, "alice")]
    # … and the next step keeps its spacing from the resumption (+32 + 15).
    assert tick(sessions, config, T0 + timedelta(minutes=46)) == 0
    assert tick(sessions, config, T0 + timedelta(minutes=47)) == 1
    assert [who for step, who, _, _ in pages(sessions) if step == 1] == ["carol", "alice"]


def test_a_snooze_after_the_briefing_pages_on_call_again_but_not_leadership(
    sessions: sessionmaker[Session], config: Config
) -> None:
    [inc] = raise_signals(sessions, config, signal(T0))
    tick(sessions, config, T0)
    tick(sessions, config, T0 + timedelta(minutes=15))  # leadership: carol and alice
    with sessions.begin() as s:
        snooze(s, inc, minutes=30, by="alice", via="cli", now=T0 + timedelta(minutes=20))
    assert tick(sessions, config, T0 + timedelta(minutes=50)) == 1
    assert tick(sessions, config, T0 + timedelta(minutes=65)) == 1  # the step fires …
    assert [(step, who) for step, who, _, _ in pages(sessions)] == [
        (0, "alice"),
        (1, "carol"),
        (1, "alice"),
        (0, "alice"),  # … the on-call manager was reminded at the wake-up; nobody else again
    ]


def test_a_snoozed_incident_that_becomes_severe_briefs_leadership_and_stays_snoozed(
    sessions: sessionmaker[Session], config: Config
) -> None:
    [inc] = raise_signals(sessions, config, signal(T0))
    tick(sessions, config, T0)
    with sessions.begin() as s:
        snooze(s, inc, minutes=30, by="alice", via="cli", now=T0 + timedelta(minutes=1))
    raise_signals(sessions, config, signal(T0 + timedelta(minutes=5), severity=1))
    assert tick(sessions, config, T0 + timedelta(minutes=5)) == 1
    assert [(step, who) for step, who, _, _ in pages(sessions)] == [
        (0, "alice"),
        (1, "carol"),
        (1, "alice"),
    ]
    with sessions() as s:
        row = s.get(Incident, inc)
        assert row is not None and row.state == "snoozed"
        assert row.next_due_at == T0 + timedelta(minutes=31)
    assert tick(sessions, config, T0 + timedelta(minutes=31)) == 1  # the wake-up: alice again
    assert pages(sessions)[-1][:2] == (0, "alice") and len(pages(sessions)) == 4


def test_snooze_cancels_pending_pages_and_snoozing_again_only_extends(
    sessions: sessionmaker[Session], config: Config
) -> None:
    [inc] = raise_signals(sessions, config, signal(T0))
    tick(sessions, config, T0)
    with sessions.begin() as s:
        assert snooze(s, inc, minutes=30, by="alice", via="api", now=T0) is ActionResult.DONE
    with sessions.begin() as s:
        same = snooze(s, inc, minutes=20, by="alice", via="api", now=T0 + timedelta(minutes=5))
        assert same is ActionResult.UNCHANGED  # ends at +25: earlier than +30
    with sessions.begin() as s:
        longer = snooze(s, inc, minutes=60, by="bob", via="cli", now=T0 + timedelta(minutes=5))
        assert longer is ActionResult.DONE
    with sessions() as s:
        assert [n.status for n in s.scalars(select(Notification))] == ["cancelled"]
        row = s.get(Incident, inc)
        assert row is not None and row.snoozed_until == T0 + timedelta(minutes=65)
    assert audit_trail(sessions, inc) == [("snoozed", "alice", "api"), ("snoozed", "bob", "cli")]
    with pytest.raises(ValueError, match="minutes must be between"), sessions.begin() as s:
        snooze(s, inc, minutes=0, by="bob", via="cli", now=T0)


def test_acknowledging_a_snoozed_incident_stops_it_for_good(
    sessions: sessionmaker[Session], config: Config
) -> None:
    [inc] = raise_signals(sessions, config, signal(T0))
    tick(sessions, config, T0)
    with sessions.begin() as s:
        snooze(s, inc, minutes=10, by="alice", via="cli", now=T0)
        assert acknowledge(s, inc, by="alice", via="slack", now=T0 + timedelta(minutes=1)) == (
            "acknowledged"
        )
    assert tick(sessions, config, T0 + timedelta(hours=2)) == 0
    with sessions() as s:
        row = list_incidents(s)[0]
    assert (row["state"], row["acknowledged_by"], row["acknowledged_via"]) == (
        "acknowledged",
        "alice",
        "slack",
    )


def test_every_action_is_audited_and_idempotent(
    sessions: sessionmaker[Session], config: Config
) -> None:
    """Each action twice: the second changes nothing; the timeline holds who, when and via."""
    with sessions.begin() as s:
        inc, opened = open_by_hand(
            s, config, topic="acme", severity=2, title="Recall rumour", by="erin", via="cli", now=T0
        )
    with sessions.begin() as s:
        again, opened_again = open_by_hand(
            s, config, topic="acme", severity=2, title="Recall rumour", by="erin", via="cli", now=T0
        )
    assert opened and not opened_again and again == inc
    at = T0 + timedelta(minutes=1)
    with sessions.begin() as s:
        assert acknowledge(s, inc, by="alice", via="api", now=at) == "acknowledged"
        assert acknowledge(s, inc, by="alice", via="api", now=at) == "already_acknowledged"
        assert add_note(
            s, inc, text="Press office called", by="alice", via="api", now=at, key="k1"
        ) == (ActionResult.DONE)
        assert add_note(
            s, inc, text="Press office called", by="alice", via="api", now=at, key="k1"
        ) == (ActionResult.UNCHANGED)
        assert reassign(s, config, inc, to="bob", by="alice", via="dashboard", now=at) == (
            ActionResult.DONE
        )
        assert reassign(s, config, inc, to="bob", by="alice", via="dashboard", now=at) == (
            ActionResult.UNCHANGED
        )
        assert reassign(s, config, inc, to="zed", by="alice", via="cli", now=at) == (
            ActionResult.UNKNOWN_PERSON
        )
        assert resolve_by_hand(s, inc, by="bob", via="cli", now=at) is ActionResult.DONE
        assert resolve_by_hand(s, inc, by="bob", via="cli", now=at) is ActionResult.RESOLVED
        assert resolve_by_hand(s, 999, by="bob", via="cli", now=at) is ActionResult.NOT_FOUND
        assert snooze(s, inc, minutes=5, by="bob", via="cli", now=at) is ActionResult.RESOLVED
    assert audit_trail(sessions, inc) == [
        ("opened", "erin", "cli"),
        ("opened_by_hand_again", "erin", "cli"),
        ("acknowledged", "alice", "api"),
        ("note", "alice", "api"),
        ("reassigned", "alice", "dashboard"),
        ("resolved", "bob", "cli"),
    ]
    with sessions() as s:
        detail = get_incident(s, inc)
        assert s.scalar(select(func.count()).select_from(Incident)) == 1
    assert detail is not None
    assert detail["notes"] == [{"at": at.isoformat(), "by": "alice", "text": "Press office called"}]
    assert all(e["at"] for e in detail["timeline"])


def test_reassign_pages_the_new_person_and_the_escalation_starts_over(
    sessions: sessionmaker[Session], config: Config
) -> None:
    [inc] = raise_signals(sessions, config, signal(T0))
    tick(sessions, config, T0)
    with sessions.begin() as s:
        acknowledge(s, inc, by="alice", via="cli", now=T0 + timedelta(minutes=1))
        reassign(s, config, inc, to="bob", by="alice", via="cli", now=T0 + timedelta(minutes=2))
    assert tick(sessions, config, T0 + timedelta(minutes=2)) == 1
    assert [(step, who) for step, who, _, _ in pages(sessions)] == [(0, "alice"), (0, "bob")]
    with sessions.begin() as s:
        row = s.get(Incident, inc)
        assert row is not None and row.state == "triggered" and row.acknowledged_by is None
    # bob does not acknowledge: leadership at +2 + 15.
    assert tick(sessions, config, T0 + timedelta(minutes=17)) == 1
    assert [who for step, who, _, _ in pages(sessions) if step == 1] == ["carol", "alice"]


def test_a_note_appears_in_the_packet_timeline_and_what_we_know(
    sessions: sessionmaker[Session], config: Config
) -> None:
    from alerts.packets import build_packet

    [inc] = raise_signals(sessions, config, signal(T0))
    hostile = "<script>x</script> Legal says: no comment before 18:00"
    with sessions.begin() as s:
        add_note(s, inc, text=hostile, by="alice", via="cli", now=T0 + timedelta(minutes=3))
    with sessions() as s:
        packet = build_packet(s, inc, T0 + timedelta(minutes=5))
    assert f"Note by alice: {hostile}" in [e["text"] for e in packet["timeline"]]
    assert packet["notes"] == [{"by": "alice", "text": hostile, "at": "Tue 14:03 UTC"}]
    from alerts.packets import render_packet_html

    html = render_packet_html(packet)
    assert "Legal says: no comment" in html and "<script>x" not in html


def test_the_signed_acknowledge_page_acknowledges_a_snoozed_incident(tmp_path: Path) -> None:
    """The link in a page (e-mail, Teams, Apprise, SMS) still works once someone snoozed the
    incident: GET shows the button (and the snooze), POST acknowledges via "link", the snooze
    ends for good; an acknowledged incident's page shows no button."""
    from fastapi.testclient import TestClient

    from alerts.web import create_app
    from tests.alerts import scenario

    rt = scenario.make_runtime(tmp_path)
    clock = scenario.Clock()
    client = TestClient(create_app(lambda: rt, clock=clock))
    inc = scenario.open_incident(rt)
    path = scenario.ack_path(rt)
    clock.now = scenario.T0 + timedelta(minutes=2)
    with rt.sessions.begin() as s:
        snooze(s, inc, minutes=30, by="bob", via="cli", now=clock.now)
    page = client.get(path)
    assert page.status_code == 200
    assert f'action="{path}"' in page.text and "Snoozed until" in page.text
    with rt.sessions() as s:
        assert s.get(Incident, inc).state == "snoozed"  # type: ignore[union-attr]
    clock.now += timedelta(minutes=1)
    done = client.post(path)
    assert done.status_code == 200 and "Acknowledged by alice" in done.text
    with rt.sessions() as s:
        row = get_incident(s, inc)
    assert row is not None
    assert (row["state"], row["acknowledged_by"], row["acknowledged_via"]) == (
        "acknowledged",
        "alice",
        "link",
    )
    assert row["snoozed_until"] is None and row["next_due_at"] is None
    again = client.get(path)
    assert "Already acknowledged by alice" in again.text and "<form" not in again.text
    rt.dispose()
