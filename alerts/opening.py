"""Opening and updating incidents: signals (or a person) open, reopen or worsen a topic's incident.

`observe(session, config, signal_ids, now)`, for each topic with new signals:
1. No open incident → reopen the topic's last incident if it was resolved less than its policy's
   `reopen_minutes` ago (flapping is one incident; the timeline says so), else open a new one
   with a snapshot of the topic's policy. The one-open-incident-per-topic index decides races.
2. An open incident → update it (kinds, peak, severity only ever worse). When it got worse, the
   escalation tick re-pages whoever the current step paged, at the new severity; when it became
   severe (`severe_at`), the tick also briefs the last step (leadership) at once — each person
   once per step (see `alerts.firing`).
`open_by_hand` is the same opening for `tocsin incident open` and the API.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alerts import escalation
from alerts.incidents import (
    ACKNOWLEDGED,
    RESOLVED,
    SNOOZED,
    TRIGGERED,
    Decision,
    IncidentFacts,
    SignalFact,
    decide,
    should_reopen,
)
from alerts.timeline import event
from worker.config import Config, default_policy
from worker.storage.models import Incident, SignalRow


def facts(inc: Incident) -> IncidentFacts:
    return IncidentFacts(inc.state, inc.severity, tuple(inc.kinds), inc.peak, inc.last_signal_at)


def open_incident_of(session: Session, topic: str) -> Incident | None:
    q = select(Incident).where(Incident.topic == topic, Incident.state != RESOLVED)
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()
    return session.scalars(q).first()


def _title(config: Config, topic: str, kinds: Sequence[str]) -> str:
    name = config.topic(topic).display_name
    return f"{name}: " + ", ".join(k.replace("_", " ") for k in kinds)


def observe(
    session: Session, config: Config, signal_ids: Sequence[int], now: datetime
) -> list[int]:
    """Open, reopen or update one incident per topic from stored signals; return their ids."""
    rows = session.scalars(select(SignalRow).where(SignalRow.id.in_(list(signal_ids)))).all()
    by_topic: dict[str, list[SignalRow]] = defaultdict(list)
    for r in rows:
        by_topic[r.topic].append(r)
    touched = []
    for topic, sigs in sorted(by_topic.items()):
        signal_facts = [
            SignalFact(s.kind, s.severity, float(s.evidence.get("observed", s.score)), s.at)
            for s in sigs
        ]
        explanations = [s.explanation for s in sigs]
        inc = _open_or_update(session, config, topic, signal_facts, explanations, now, sigs)
        if inc is None:
            continue
        for s in sigs:
            s.incident_id = inc.id
        touched.append(inc.id)
    session.flush()
    return touched


def _open_or_update(
    session: Session,
    config: Config,
    topic: str,
    signal_facts: list[SignalFact],
    explanations: list[str],
    now: datetime,
    sigs: Sequence[SignalRow] = (),
    *,
    title: str | None = None,
    actor: str | None = None,
    via: str | None = None,
) -> Incident | None:
    current = open_incident_of(session, topic)
    decision = decide(facts(current) if current else None, signal_facts)
    if decision.action == "open":
        opened = _reopen_or_open(
            session, config, topic, decision, explanations, now, title, actor, via
        )
        if opened is not None:
            return opened
        current = open_incident_of(session, topic)  # another worker opened it first
        assert current is not None
        decision = decide(facts(current), signal_facts)
    if decision.action == "update" and current is not None:
        _update(session, config, current, decision, explanations, now, [s.id for s in sigs])
        return current
    return None


def _update(
    session: Session,
    config: Config,
    inc: Incident,
    decision: Decision,
    explanations: list[str],
    now: datetime,
    signal_ids: list[int],
) -> None:
    previous = inc.severity
    inc.severity, inc.kinds, inc.peak = decision.severity, list(decision.kinds), decision.peak
    inc.last_signal_at = decision.last_signal_at or inc.last_signal_at
    inc.updated_at = now
    if not inc.summary.get("title_by_hand"):  # a title written by a person is kept
        inc.title = _title(config, inc.topic, decision.kinds)
    inc.summary = {**inc.summary, "explanations": explanations}
    event(
        session,
        inc.id,
        now,
        "severity_raised" if decision.worsened else "updated",
        severity=decision.severity,
        kinds=list(decision.kinds),
        signals=signal_ids,
    )
    if decision.worsened:
        worsened(session, inc, previous, now)


def worsened(session: Session, inc: Incident, previous: int, now: datetime) -> None:
    """Leave the escalation tick its work when an incident got worse (step 2 of the module).

    - Triggered, a step already paged: re-page that step's people at the new severity.
    - Severe now (and not before), leadership not yet paged: the last step fires at once, whether
      or not someone already acknowledged (DESIGN: leadership hears "if it is not handled in time
      or is severe"); the acknowledged on-call manager is not paged again.
    The first page, not yet gone, needs neither: it is sent at the current severity and includes
    leadership when severe (`escalation.targets`).
    """
    snap = inc.policy
    last = len(snap.get("steps", [])) - 1
    pending: dict[str, Any] = dict(inc.summary.get("pending") or {})
    if inc.state == TRIGGERED and inc.next_step > 0:
        pending["repage"] = inc.severity
        pending["repage_step"] = inc.next_step - 1
    severe_at = int(snap.get("severe_at") or 0)
    if (
        severe_at
        and last >= 1
        and inc.severity <= severe_at < previous
        and inc.next_step <= last
        and not (inc.state == TRIGGERED and inc.next_step == 0)
        and inc.state in (TRIGGERED, ACKNOWLEDGED, SNOOZED)
    ):
        pending["severe"] = True
        inc.next_step = last
    if pending:
        inc.summary = {**inc.summary, "pending": pending}
        inc.next_due_at = now


def _reopen_or_open(
    session: Session,
    config: Config,
    topic: str,
    decision: Decision,
    explanations: list[str],
    now: datetime,
    title: str | None,
    actor: str | None,
    via: str | None,
) -> Incident | None:
    last = session.scalars(
        select(Incident)
        .where(Incident.topic == topic, Incident.state == RESOLVED)
        .order_by(Incident.resolved_at.desc())
        .limit(1)
    ).first()
    if last is not None and should_reopen(
        last.resolved_at, now, float(last.policy.get("reopen_minutes", 60))
    ):
        return _reopen(session, config, last, decision, explanations, now, actor, via)
    return _try_open(session, config, topic, decision, explanations, now, title, actor, via)


def _reopen(
    session: Session,
    config: Config,
    inc: Incident,
    decision: Decision,
    explanations: list[str],
    now: datetime,
    actor: str | None,
    via: str | None,
) -> Incident | None:
    """Back within `reopen_minutes`: the same incident, triggered again, its escalation from the
    first step (a new round: everyone may be paged again, once)."""
    resolved_at = inc.resolved_at
    assert resolved_at is not None
    kinds = sorted(set(inc.kinds) | set(decision.kinds))
    try:
        with session.begin_nested():
            changed = session.execute(
                update(Incident)
                .where(Incident.id == inc.id, Incident.state == RESOLVED)
                .values(
                    state=TRIGGERED,
                    resolved_at=None,
                    acknowledged_at=None,
                    acknowledged_by=None,
                    snoozed_until=None,
                    assigned_to=None,
                    severity=decision.severity,
                    kinds=kinds,
                    title=inc.title
                    if inc.summary.get("title_by_hand")
                    else _title(config, inc.topic, kinds),
                    peak=max(inc.peak, decision.peak),
                    last_signal_at=decision.last_signal_at or now,
                    updated_at=now,
                    next_step=0,
                    escalation_base_at=now,
                    escalation_round=Incident.escalation_round + 1,
                    next_due_at=escalation.due_at(inc.policy, 0, now),
                    fence=Incident.fence + 1,
                    summary={
                        **inc.summary,
                        "explanations": explanations,
                        "reopened": int(inc.summary.get("reopened", 0)) + 1,
                    },
                )
                .execution_options(synchronize_session=False)
            )
    except IntegrityError:  # another incident of the topic opened meanwhile
        return None
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    session.refresh(inc)
    minutes = round((now - resolved_at) / timedelta(minutes=1))
    event(
        session,
        inc.id,
        now,
        "reopened",
        actor=actor,
        **({"via": via} if via else {}),
        severity=decision.severity,
        kinds=list(decision.kinds),
        resolved_minutes_ago=minutes,
    )
    return inc


def _try_open(
    session: Session,
    config: Config,
    topic: str,
    decision: Decision,
    explanations: list[str],
    now: datetime,
    title: str | None,
    actor: str | None,
    via: str | None,
) -> Incident | None:
    policy = config.policies.get(config.topic(topic).policy) or default_policy()
    snap = escalation.snapshot(policy)
    inc = Incident(
        topic=topic,
        state=TRIGGERED,
        severity=decision.severity,
        kinds=list(decision.kinds),
        title=title or _title(config, topic, decision.kinds),
        opened_at=now,
        updated_at=now,
        last_signal_at=decision.last_signal_at or now,
        peak=decision.peak,
        policy=snap,
        next_step=0,
        next_due_at=escalation.due_at(snap, 0, now),
        fence=0,
        escalation_round=0,
        summary={"explanations": explanations, **({"title_by_hand": True} if title else {})},
    )
    try:
        # A savepoint, so losing the race on the one-open-incident-per-topic index keeps the
        # rest of the transaction.
        with session.begin_nested():
            session.add(inc)
            session.flush()
    except IntegrityError:
        return None
    event(
        session,
        inc.id,
        now,
        "opened",
        actor=actor,
        **({"via": via} if via else {}),
        severity=decision.severity,
        kinds=list(decision.kinds),
    )
    return inc


def open_by_hand(
    session: Session,
    config: Config,
    *,
    topic: str,
    severity: int,
    title: str,
    by: str,
    via: str,
    now: datetime,
) -> tuple[int, bool]:
    """Open an incident for `topic` by hand (kind `manual`). Returns (id, opened): when the topic
    already has an open incident, that one is returned (made worse if `severity` is worse), so
    running the same command twice opens one incident."""
    if not 1 <= severity <= 4:
        raise ValueError(f"severity must be 1 (worst) to 4, got {severity}")
    title = " ".join(title.split())[:300]
    if not title:
        raise ValueError("the title is empty")
    fact = SignalFact("manual", severity, 0.0, now)
    current = open_incident_of(session, topic)
    inc = _open_or_update(
        session, config, topic, [fact], [title], now, title=title, actor=by, via=via
    )
    assert inc is not None
    if current is not None and current.id == inc.id:
        event(session, inc.id, now, "opened_by_hand_again", actor=by, via=via, title=title)
        return inc.id, False
    session.flush()
    return inc.id, True


__all__ = ["facts", "observe", "open_by_hand", "open_incident_of", "worsened"]
