"""Incidents, escalation, acknowledgement and the outbox on real SQLite and real PostgreSQL.

The clock is an argument everywhere: each test moves `now` by hand.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from alerts.channels.base import OutgoingMessage, TransportError
from alerts.outbox import MAX_ATTEMPTS, dispatch_due
from alerts.service import (
    AckResult,
    acknowledge,
    audit,
    auto_resolve,
    escalation_tick,
    get_incident,
    observe,
)
from worker.config import Config, parse_config
from worker.model import Evidence, Signal
from worker.pipeline import store_signals
from worker.storage.models import DeliveryAttempt, Incident, IncidentEvent, Notification

T0 = datetime(2026, 9, 1, 14, 0, tzinfo=UTC)
SECRET = "test-secret-key-0123456789"
BASE = "http://tocsin.test"

CONFIG = """
[[topics]]
name = "acme"
display_name = "Acme"

[people.alice]
name = "Alice"
email = "alice@example.com"

[people.carol]
name = "Carol"
email = "carol@example.com"

[groups]
oncall = ["alice"]
leadership = ["carol"]

[policies.default]
steps = [
  { after_minutes = 0, notify = ["oncall"], channels = ["console"], role = "on-call" },
  { after_minutes = 15, notify = ["leadership"], channels = ["console"], role = "leadership" },
]
severe_at = 1
auto_resolve_minutes = 60
"""


@pytest.fixture
def config() -> Config:
    return parse_config(CONFIG)


def signal(at: datetime, *, kind: str = "volume_spike", severity: int = 3, observed: float = 40):
    ev = Evidence(at - timedelta(minutes=5), at, observed, 5.0, 2.0, 9.0, 1e-9)
    return Signal("acme", kind, at, 0.99, severity, f"{kind} at {at:%H:%M}", ev)


def raise_signals(sessions: sessionmaker[Session], config: Config, *sigs: Signal) -> list[int]:
    now = max(s.at for s in sigs)
    with sessions.begin() as s:
        ids = store_signals(s, list(sigs))
        return observe(s, config, ids, now)


def tick(sessions: sessionmaker[Session], config: Config, now: datetime) -> int:
    return escalation_tick(sessions, config, now, base_url=BASE, secret_key=SECRET)


def notifications(sessions: sessionmaker[Session]) -> list[tuple[int, str, str]]:
    with sessions() as s:
        rows = s.scalars(select(Notification).order_by(Notification.id)).all()
        return [(n.step, n.recipient, n.status) for n in rows]


class Recording:
    def __init__(self, fail: int = 0, *, permanent: bool = False) -> None:
        self.sent: list[OutgoingMessage] = []
        self.fail, self.permanent = fail, permanent

    def send(self, message: OutgoingMessage) -> None:
        if self.fail > 0:
            self.fail -= 1
            raise TransportError("451 try again later", permanent=self.permanent)
        self.sent.append(message)


def test_one_incident_per_topic_and_worsening_raises_severity(
    sessions: sessionmaker[Session], config: Config
) -> None:
    first = raise_signals(sessions, config, signal(T0))
    second = raise_signals(sessions, config, signal(T0 + timedelta(minutes=5), severity=2))
    third = raise_signals(
        sessions, config, signal(T0 + timedelta(minutes=10), kind="negative_surge", severity=3)
    )
    assert first == second == third
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Incident)) == 1
        detail = get_incident(s, first[0])
    assert detail is not None
    assert detail["severity"] == 2  # raised by the worse signal, never lowered
    assert detail["kinds"] == ["negative_surge", "volume_spike"]
    kinds = [e["kind"] for e in detail["timeline"]]
    assert kinds == ["opened", "severity_raised", "updated"]


def test_the_same_signal_observed_twice_changes_nothing(
    sessions: sessionmaker[Session], config: Config
) -> None:
    raise_signals(sessions, config, signal(T0))
    with sessions.begin() as s:
        assert store_signals(s, [signal(T0)]) == []  # (topic, kind, at) already stored


def test_escalation_pages_oncall_then_leadership_and_never_twice(
    sessions: sessionmaker[Session], config: Config
) -> None:
    raise_signals(sessions, config, signal(T0))
    assert tick(sessions, config, T0) == 1
    assert tick(sessions, config, T0 + timedelta(minutes=1)) == 0  # step 1 not due yet
    assert notifications(sessions) == [(0, "alice", "pending")]
    assert tick(sessions, config, T0 + timedelta(minutes=16)) == 1
    assert tick(sessions, config, T0 + timedelta(minutes=60)) == 0  # no repeat configured
    assert notifications(sessions) == [(0, "alice", "pending"), (1, "carol", "pending")]


def test_acknowledged_incident_sends_no_further_escalation(
    sessions: sessionmaker[Session], config: Config
) -> None:
    (inc_id,) = raise_signals(sessions, config, signal(T0))
    tick(sessions, config, T0)
    with sessions.begin() as s:
        got = acknowledge(s, inc_id, by="alice", via="cli", now=T0 + timedelta(minutes=3))
    assert got is AckResult.ACKNOWLEDGED
    with sessions.begin() as s:
        again = acknowledge(s, inc_id, by="bob", via="cli", now=T0 + timedelta(minutes=4))
    assert again is AckResult.ALREADY_ACKNOWLEDGED
    assert tick(sessions, config, T0 + timedelta(minutes=30)) == 0
    # The on-call page not yet delivered is cancelled rather than sent late.
    assert notifications(sessions) == [(0, "alice", "cancelled")]
    with sessions() as s:
        inc = s.get(Incident, inc_id)
        assert inc is not None and inc.acknowledged_by == "alice"


def test_single_use_token_is_refused_the_second_time(
    sessions: sessionmaker[Session], config: Config
) -> None:
    (inc_id,) = raise_signals(sessions, config, signal(T0))
    with sessions.begin() as s:
        assert (
            acknowledge(s, inc_id, by="alice", via="link", now=T0, token_id="j1") == "acknowledged"
        )
    with sessions.begin() as s:
        assert acknowledge(s, inc_id, by="alice", via="link", now=T0, token_id="j1") == "token_used"
    with sessions.begin() as s:
        assert acknowledge(s, 999, by="alice", via="api", now=T0) is AckResult.NOT_FOUND


def test_sev1_reaches_leadership_at_once(sessions: sessionmaker[Session], config: Config) -> None:
    raise_signals(sessions, config, signal(T0, severity=1))
    tick(sessions, config, T0)
    assert sorted(r for _, r, _ in notifications(sessions)) == ["alice", "carol"]


def test_a_person_both_paged_and_briefed_at_once_gets_one_message(
    sessions: sessionmaker[Session],
) -> None:
    """Alice is on call and in leadership: a SEV1's first firing sends her one page, with the
    acknowledge link and the briefing's packet; Carol is briefed as usual; the leadership step,
    when it comes due, briefs nobody twice."""
    config = parse_config(
        CONFIG.replace('leadership = ["carol"]', 'leadership = ["alice", "carol"]')
    )
    (inc_id,) = raise_signals(sessions, config, signal(T0, severity=2))
    with sessions.begin() as s:
        s.execute(update(Incident).values(severity=1))  # opened at SEV1 (severe_at = 1)
    tick(sessions, config, T0)
    assert notifications(sessions) == [
        (0, "alice", "pending"),
        (1, "alice", "cancelled"),  # rode on her page: kept so that step 1 does not brief her
        (1, "carol", "pending"),
    ]
    with sessions() as s:
        page, merged, carol = s.scalars(select(Notification).order_by(Notification.id)).all()
        assert page.role == "on-call" and "/ack/" in page.body["ack_url"]
        assert page.body.get("answers") == carol.body.get("answers") and page.body["answers"]
        assert merged.body["merged_into"] == page.idempotency_key and merged.role == "leadership"
    tick(sessions, config, T0 + timedelta(minutes=16))  # the leadership step's own time
    assert len(notifications(sessions)) == 3
    assert inc_id


def test_quiet_incident_auto_resolves_and_a_new_signal_opens_a_new_one(
    sessions: sessionmaker[Session], config: Config
) -> None:
    (first,) = raise_signals(sessions, config, signal(T0))
    assert auto_resolve(sessions, config, T0 + timedelta(minutes=59)) == 0
    assert auto_resolve(sessions, config, T0 + timedelta(minutes=61)) == 1
    # Resolved at +61; reopen_minutes (60 by default) has passed at +122: a new incident.
    (second,) = raise_signals(sessions, config, signal(T0 + timedelta(minutes=122)))
    assert second != first


def test_concurrent_ticks_fire_each_step_once(
    sessions: sessionmaker[Session], config: Config
) -> None:
    """Eight threads tick at the same moment: exactly one page per step and person."""
    raise_signals(sessions, config, signal(T0))
    barrier = threading.Barrier(8)
    results: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        barrier.wait()
        try:
            results.append(tick(sessions, config, T0 + timedelta(minutes=20)))
        except BaseException as exc:  # collected and reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # SQLite may refuse a writer under contention ("database is locked" is not expected: writers
    # wait busy_timeout); no thread may fail and the steps must fire exactly once in total.
    assert errors == []
    while tick(sessions, config, T0 + timedelta(minutes=20)):
        pass
    pages = notifications(sessions)
    assert sorted(pages) == [(0, "alice", "pending"), (1, "carol", "pending")]


def test_outbox_retries_then_sends_and_records_every_attempt(
    sessions: sessionmaker[Session], config: Config
) -> None:
    raise_signals(sessions, config, signal(T0))
    tick(sessions, config, T0)
    flaky, console = Recording(fail=2), Recording()
    channels = {"console": flaky, "fallback": console}
    now = T0
    assert dispatch_due(sessions, channels, now) == 0
    assert dispatch_due(sessions, channels, now) == 0  # backing off: not due again yet
    for _ in range(10):
        now += timedelta(minutes=16)
        if dispatch_due(sessions, channels, now):
            break
    assert [m.recipient for m in flaky.sent] == ["alice"]
    assert "/ack/" in flaky.sent[0].body["ack_url"]
    with sessions() as s:
        attempts = s.scalars(select(DeliveryAttempt).order_by(DeliveryAttempt.id)).all()
        assert [a.ok for a in attempts] == [False, False, True]
        assert attempts[0].error == "451 try again later"
    assert notifications(sessions) == [(0, "alice", "sent")]


def test_permanent_failure_falls_back_to_the_console(
    sessions: sessionmaker[Session], config: Config, tmp_path: Path
) -> None:
    raise_signals(sessions, config, signal(T0))
    tick(sessions, config, T0)
    with sessions.begin() as s:
        n = s.scalars(select(Notification)).one()
        n.channel = "email"
    broken, console = Recording(fail=99, permanent=True), Recording()
    assert dispatch_due(sessions, {"email": broken, "console": console}, T0) == 1
    assert [m.recipient for m in console.sent] == ["alice"]
    assert notifications(sessions) == [(0, "alice", "fallback")]


def test_transient_failures_give_up_after_max_attempts_and_fall_back(
    sessions: sessionmaker[Session], config: Config
) -> None:
    raise_signals(sessions, config, signal(T0))
    tick(sessions, config, T0)
    with sessions.begin() as s:
        s.scalars(select(Notification)).one().channel = "email"
    broken, console = Recording(fail=99), Recording()
    now = T0
    for _ in range(MAX_ATTEMPTS):
        dispatch_due(sessions, {"email": broken, "console": console}, now)
        now += timedelta(hours=1)
    assert notifications(sessions) == [(0, "alice", "fallback")]
    assert len(console.sent) == 1


def test_page_written_before_an_ack_is_not_delivered_after_it(
    sessions: sessionmaker[Session], config: Config
) -> None:
    """A worker that claimed a page and died leaves a 'sending' lease; once the lease expires the
    page is retried only if the incident is still triggered."""
    (inc_id,) = raise_signals(sessions, config, signal(T0))
    tick(sessions, config, T0)
    with sessions.begin() as s:
        n = s.scalars(select(Notification)).one()
        n.status, n.attempts, n.next_attempt_at = "sending", 1, T0 + timedelta(minutes=10)
    with sessions.begin() as s:
        acknowledge(s, inc_id, by="alice", via="cli", now=T0 + timedelta(minutes=1))
    sink = Recording()
    assert dispatch_due(sessions, {"console": sink}, T0 + timedelta(minutes=11)) == 0
    assert sink.sent == []
    assert notifications(sessions) == [(0, "alice", "cancelled")]


def test_audit_reports_an_overdue_step(sessions: sessionmaker[Session], config: Config) -> None:
    raise_signals(sessions, config, signal(T0))
    with sessions() as s:
        assert audit(s, T0 + timedelta(minutes=1)) == []
        problems = audit(s, T0 + timedelta(minutes=10))
    assert len(problems) == 1 and "overdue" in problems[0]


def test_an_incident_that_becomes_sev1_reaches_leadership_at_the_next_tick(
    sessions: sessionmaker[Session], config: Config
) -> None:
    raise_signals(sessions, config, signal(T0, severity=3))
    assert tick(sessions, config, T0) == 1  # on-call only: SEV3
    assert notifications(sessions) == [(0, "alice", "pending")]
    with sessions() as s:  # what the e-mail quotes, in the config's zone (UTC here)
        assert s.scalars(select(Notification)).one().body["opened_shown"] == "Tue 01 Sep 14:00 UTC"
    raise_signals(sessions, config, signal(T0 + timedelta(minutes=5), severity=1))
    # Worse, but not yet severe enough, would have waited; SEV1 with severe_at = 1 does not:
    # leadership now, and alice (whom step 0 paged at SEV3) paged again at SEV1.
    assert tick(sessions, config, T0 + timedelta(minutes=5)) == 1
    assert notifications(sessions) == [
        (0, "alice", "pending"),
        (1, "carol", "pending"),
        (0, "alice", "pending"),
    ]
    with sessions() as s:
        subjects = [n.subject for n in s.scalars(select(Notification).order_by(Notification.id))]
    assert [x[:6] for x in subjects] == ["[SEV3]", "[SEV1]", "[SEV1]"]
    assert tick(sessions, config, T0 + timedelta(minutes=20)) == 0  # and never twice
    with sessions() as s:
        kinds = list(s.scalars(select(IncidentEvent.kind).order_by(IncidentEvent.id)))
    assert kinds.count("escalated_severe") == 1
    assert kinds.index("severity_raised") < kinds.index("escalated_severe")


def test_an_acknowledged_incident_that_becomes_sev1_still_briefs_leadership_once(
    sessions: sessionmaker[Session], config: Config
) -> None:
    [inc_id] = raise_signals(sessions, config, signal(T0, severity=3))
    assert tick(sessions, config, T0) == 1
    with sessions.begin() as s:
        acknowledge(s, inc_id, by="alice", via="cli", now=T0 + timedelta(minutes=2))
    assert tick(sessions, config, T0 + timedelta(minutes=16)) == 0  # handled: no escalation
    # Worse but not severe: still nothing.
    raise_signals(sessions, config, signal(T0 + timedelta(minutes=20), severity=2))
    assert tick(sessions, config, T0 + timedelta(minutes=20)) == 0
    # SEV1: leadership hears at the next tick, even though alice is on it; alice is not re-paged.
    raise_signals(sessions, config, signal(T0 + timedelta(minutes=25), severity=1))
    assert tick(sessions, config, T0 + timedelta(minutes=25)) == 1
    assert notifications(sessions) == [(0, "alice", "cancelled"), (1, "carol", "pending")]
    sink = Recording()
    assert dispatch_due(sessions, {"console": sink}, T0 + timedelta(minutes=25)) == 1
    assert [m.recipient for m in sink.sent] == ["carol"]
    assert sink.sent[0].body["acknowledged_by"] == "alice"  # "alice is on it", no button
    # Once: no repeat, no second briefing, and the incident stays acknowledged.
    assert tick(sessions, config, T0 + timedelta(hours=3)) == 0
    raise_signals(sessions, config, signal(T0 + timedelta(minutes=40), severity=1))
    assert tick(sessions, config, T0 + timedelta(minutes=41)) == 0
    with sessions() as s:
        inc = s.get(Incident, inc_id)
        assert inc is not None and inc.state == "acknowledged" and inc.next_due_at is None
        assert audit(s, T0 + timedelta(hours=3)) == []
        kinds = list(s.scalars(select(IncidentEvent.kind).order_by(IncidentEvent.id)))
    assert kinds.count("escalated_severe") == 1 and kinds.count("step_fired") == 2


def test_leadership_already_briefed_is_not_briefed_again_when_it_becomes_sev1(
    sessions: sessionmaker[Session], config: Config
) -> None:
    [inc_id] = raise_signals(sessions, config, signal(T0, severity=3))
    tick(sessions, config, T0)
    assert tick(sessions, config, T0 + timedelta(minutes=15)) == 1  # leadership, not handled
    with sessions.begin() as s:
        acknowledge(s, inc_id, by="alice", via="cli", now=T0 + timedelta(minutes=16))
    raise_signals(sessions, config, signal(T0 + timedelta(minutes=20), severity=1))
    assert tick(sessions, config, T0 + timedelta(minutes=20)) == 0
    with sessions() as s:
        kinds = list(s.scalars(select(IncidentEvent.kind).order_by(IncidentEvent.id)))
    assert "escalated_severe" not in kinds


def test_a_worse_but_not_severe_update_keeps_the_escalation_clock(
    sessions: sessionmaker[Session], config: Config
) -> None:
    raise_signals(sessions, config, signal(T0, severity=3))
    tick(sessions, config, T0)
    raise_signals(sessions, config, signal(T0 + timedelta(minutes=5), severity=2))
    assert tick(sessions, config, T0 + timedelta(minutes=6)) == 1  # alice again, at SEV2
    assert tick(sessions, config, T0 + timedelta(minutes=14)) == 0  # leadership still at +15
    assert tick(sessions, config, T0 + timedelta(minutes=16)) == 1
    assert notifications(sessions) == [
        (0, "alice", "pending"),
        (0, "alice", "pending"),
        (1, "carol", "pending"),
    ]
