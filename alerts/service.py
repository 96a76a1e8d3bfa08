"""The alerts side on the database: each function is one short transaction, safe to run twice.

- `observe`: new signals open or update the topic's one open incident.
- `escalation_tick`: claim incidents whose next step is due and fire one step each, writing the
  notifications (the outbox) in the same transaction.
- `acknowledge` / `resolve` / `auto_resolve`: state changes, each one conditional update, one
  timeline row and a fence bump, so a stale step or send does nothing.
- `audit`: every open, unacknowledged incident must have a next due time.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from alerts import escalation
from alerts.channels import address_for
from alerts.incidents import (
    ACKNOWLEDGED,
    OPEN_STATES,
    RESOLVED,
    TRIGGERED,
    IncidentFacts,
    SignalFact,
    decide,
    should_auto_resolve,
)
from alerts.tokens import make_ack_token, make_view_token
from worker.config import Config, default_policy
from worker.localtime import show
from worker.storage.models import (
    Acknowledgement,
    Incident,
    IncidentEvent,
    Notification,
    SignalRow,
)

ACK_LINK_TTL = timedelta(hours=24)
VIEW_LINK_TTL = timedelta(days=7)


class AckResult(enum.StrEnum):
    ACKNOWLEDGED = "acknowledged"
    ALREADY_ACKNOWLEDGED = "already_acknowledged"
    RESOLVED = "resolved"
    NOT_FOUND = "not_found"
    TOKEN_USED = "token_used"  # noqa: S105 - a result name, not a secret


def _event(
    session: Session,
    incident_id: int,
    at: datetime,
    kind: str,
    actor: str | None = None,
    **detail: Any,
) -> None:
    session.add(
        IncidentEvent(incident_id=incident_id, at=at, kind=kind, actor=actor, detail=detail)
    )


def _facts(inc: Incident) -> IncidentFacts:
    return IncidentFacts(inc.state, inc.severity, tuple(inc.kinds), inc.peak, inc.last_signal_at)


def _open_incident(session: Session, topic: str) -> Incident | None:
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
    """Open or update one incident per topic from stored signals; return the incident ids."""
    rows = session.scalars(select(SignalRow).where(SignalRow.id.in_(list(signal_ids)))).all()
    by_topic: dict[str, list[SignalRow]] = defaultdict(list)
    for r in rows:
        by_topic[r.topic].append(r)
    touched = []
    for topic, sigs in sorted(by_topic.items()):
        facts = [
            SignalFact(s.kind, s.severity, float(s.evidence.get("observed", s.score)), s.at)
            for s in sigs
        ]
        current = _open_incident(session, topic)
        decision = decide(_facts(current) if current else None, facts)
        explanations = [s.explanation for s in sigs]
        inc: Incident | None = None
        if decision.action == "open":
            inc = _try_open(session, config, topic, decision, explanations, now)
            if inc is None:  # another worker opened it first: update that one instead
                current = _open_incident(session, topic)
                assert current is not None
                decision = decide(_facts(current), facts)
        if decision.action == "update" and current is not None:
            inc = current
            worsened = decision.worsened
            previous = inc.severity
            inc.severity, inc.kinds, inc.peak = (
                decision.severity,
                list(decision.kinds),
                decision.peak,
            )
            inc.last_signal_at = decision.last_signal_at or inc.last_signal_at
            inc.updated_at = now
            inc.title = _title(config, topic, decision.kinds)
            inc.summary = {**inc.summary, "explanations": explanations}
            _event(
                session,
                inc.id,
                now,
                "severity_raised" if worsened else "updated",
                severity=decision.severity,
                kinds=list(decision.kinds),
                signals=[s.id for s in sigs],
            )
            _page_leadership_if_now_severe(session, inc, previous, now)
        if inc is None:
            continue
        for s in sigs:
            s.incident_id = inc.id
        touched.append(inc.id)
    session.flush()
    return touched


def _page_leadership_if_now_severe(
    session: Session, inc: Incident, previous: int, now: datetime
) -> None:
    """An incident that worsens to the policy's `severe_at` reaches leadership now, as it would
    have with the first page had it been that severe when it opened: the escalation jumps to its
    last step, due at once (the escalation tick sends it).

    This holds for an acknowledged incident too: leadership hears of a severe incident whether
    or not someone is already on it (DESIGN: "if it is not handled in time or is severe"). Its
    briefing shows who acknowledged, and nothing else is re-sent: the on-call manager is not
    paged again, and leadership hears once per incident.
    """
    snap = inc.policy
    steps = snap.get("steps", [])
    severe_at = int(snap.get("severe_at") or 0)
    last = len(steps) - 1
    if not severe_at or last < 1 or inc.state not in (TRIGGERED, ACKNOWLEDGED):
        return
    if not (inc.severity <= severe_at < previous) or inc.next_step > last:
        return
    if inc.state == TRIGGERED and inc.next_step == 0:
        return  # the first page has not gone yet: it will include leadership (escalation.targets)
    inc.next_step = last
    inc.next_due_at = now
    _event(session, inc.id, now, "escalated_severe", severity=inc.severity, step=last)


def _try_open(
    session: Session,
    config: Config,
    topic: str,
    decision: Any,
    explanations: list[str],
    now: datetime,
) -> Incident | None:
    policy = config.policies.get(config.topic(topic).policy) or default_policy()
    snap = escalation.snapshot(policy)
    inc = Incident(
        topic=topic,
        state=TRIGGERED,
        severity=decision.severity,
        kinds=list(decision.kinds),
        title=_title(config, topic, decision.kinds),
        opened_at=now,
        updated_at=now,
        last_signal_at=decision.last_signal_at or now,
        peak=decision.peak,
        policy=snap,
        next_step=0,
        next_due_at=escalation.due_at(snap, 0, now),
        fence=0,
        summary={"explanations": explanations},
    )
    try:
        # A savepoint, so losing the race on the one-open-incident-per-topic index keeps the
        # rest of the transaction.
        with session.begin_nested():
            session.add(inc)
            session.flush()
    except IntegrityError:
        return None
    _event(session, inc.id, now, "opened", severity=decision.severity, kinds=list(decision.kinds))
    return inc


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _fire_step(
    session: Session,
    config: Config,
    inc: Incident,
    now: datetime,
    *,
    base_url: str,
    secret_key: str,
) -> list[str]:
    """Write the notifications of the incident's next step; return who they are for."""
    index = inc.next_step
    snap = inc.policy
    view = make_view_token(secret_key, inc.id, now + VIEW_LINK_TTL)
    recipients = []
    for target in escalation.targets(snap, index, inc.severity):
        for person in config.resolve(target.target):
            for channel_name in target.channels:
                channel = config.channels.get(channel_name) or config.channels["console"]
                address = address_for(config, person, channel.name)
                if not address:
                    channel, address = config.channels["console"], person.id
                token = make_ack_token(secret_key, inc.id, person.id, now + ACK_LINK_TTL)
                sev = f"SEV{inc.severity}"
                verb = "acknowledge" if target.role == "on-call" else "briefing"
                stmt = (
                    _insert(session)(Notification)
                    .values(
                        incident_id=inc.id,
                        idempotency_key=f"inc{inc.id}:step{index}:{person.id}:{channel.name}",
                        step=index,
                        fence=inc.fence,
                        recipient=person.id,
                        role=target.role,
                        channel=channel.name,
                        address=address,
                        subject=f"[{sev}] {inc.title} — {verb}".replace("\r", " ").replace(
                            "\n", " "
                        ),
                        body={
                            "incident_id": inc.id,
                            "topic": inc.topic,
                            "title": inc.title,
                            "severity": inc.severity,
                            "kinds": list(inc.kinds),
                            "step": index,
                            "role": target.role,
                            "recipient_name": person.name,
                            "ack_url": f"{base_url}/ack/{token}",
                            "packet_url": f"{base_url}/incidents/{inc.id}/packet?t={view}",
                            "explanations": list(inc.summary.get("explanations", [])),
                            "opened_at": inc.opened_at.isoformat(),
                            "opened_shown": show(inc.opened_at, config.timezone),
                            # Set when leadership is briefed on an incident that became severe
                            # after the on-call manager took it: "Alice is on it".
                            "acknowledged_by": inc.acknowledged_by,
                        },
                        status="pending",
                        attempts=0,
                        created_at=now,
                        next_attempt_at=now,
                    )
                    .on_conflict_do_nothing(index_elements=["idempotency_key"])
                )
                session.execute(stmt)
                recipients.append(f"{person.id}:{channel.name}")
    return recipients


def escalation_tick(
    sessions: sessionmaker[Session],
    config: Config,
    now: datetime,
    *,
    base_url: str,
    secret_key: str,
    limit: int = 50,
) -> int:
    """Fire one due step for each claimed incident. Returns how many steps fired.

    1. Select triggered incidents (and acknowledged ones that became severe, see
       `_page_leadership_if_now_severe`) whose `next_due_at` has passed (SKIP LOCKED on
       PostgreSQL, so two ticks never take the same row; SQLite serialises writers with
       BEGIN IMMEDIATE).
    2. Claim each with a conditional UPDATE on its fence; act only if one row changed.
    3. Write the step's notifications and move `next_step`/`next_due_at` on, in the same commit.
    """
    fired = 0
    with sessions.begin() as session:
        q = (
            select(Incident)
            .where(
                # An acknowledged incident is due only when it became severe (leadership).
                Incident.state.in_([TRIGGERED, ACKNOWLEDGED]),
                Incident.next_due_at.is_not(None),
                Incident.next_due_at <= now,
            )
            .order_by(Incident.next_due_at)
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        for inc in session.scalars(q).all():
            claimed = session.execute(
                update(Incident)
                .where(
                    Incident.id == inc.id,
                    Incident.fence == inc.fence,
                    Incident.state.in_([TRIGGERED, ACKNOWLEDGED]),
                )
                .values(fence=inc.fence + 1)
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                continue
            session.refresh(inc)
            who = _fire_step(session, config, inc, now, base_url=base_url, secret_key=secret_key)
            step = inc.next_step
            inc.next_step = step + 1
            # Acknowledged: that was the severe briefing for leadership; nothing repeats.
            due = escalation.due_at(inc.policy, step + 1, inc.opened_at)
            inc.next_due_at = due if inc.state == TRIGGERED else None
            _event(session, inc.id, now, "step_fired", step=step, recipients=who)
            fired += 1
    return fired


def acknowledge(
    session: Session,
    incident_id: int,
    *,
    by: str,
    via: str,
    now: datetime,
    token_id: str | None = None,
) -> AckResult:
    """Acknowledge once: stops the escalation and cancels pending pages. Twice changes nothing."""
    if token_id is not None and session.scalar(
        select(Acknowledgement.id).where(Acknowledgement.token_id == token_id)
    ):
        return AckResult.TOKEN_USED
    inc = session.get(Incident, incident_id)
    if inc is None:
        return AckResult.NOT_FOUND
    if inc.state == RESOLVED:
        return AckResult.RESOLVED
    changed = session.execute(
        update(Incident)
        .where(Incident.id == incident_id, Incident.state.in_([TRIGGERED, "snoozed"]))
        .values(
            state=ACKNOWLEDGED,
            acknowledged_at=now,
            acknowledged_by=by,
            fence=Incident.fence + 1,
            next_due_at=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        return AckResult.ALREADY_ACKNOWLEDGED
    # token_id is unique: a link used twice at the very same moment fails here and rolls back.
    session.add(Acknowledgement(incident_id=incident_id, at=now, by=by, via=via, token_id=token_id))
    session.execute(
        update(Notification)
        .where(Notification.incident_id == incident_id, Notification.status == "pending")
        .values(status="cancelled", last_error="incident acknowledged")
        .execution_options(synchronize_session=False)
    )
    _event(session, incident_id, now, "acknowledged", actor=by, via=via)
    session.refresh(inc)
    return AckResult.ACKNOWLEDGED


def resolve(session: Session, incident_id: int, *, by: str, now: datetime, reason: str) -> bool:
    changed = session.execute(
        update(Incident)
        .where(Incident.id == incident_id, Incident.state.in_(OPEN_STATES))
        .values(
            state=RESOLVED,
            resolved_at=now,
            fence=Incident.fence + 1,
            next_due_at=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        return False
    session.execute(
        update(Notification)
        .where(Notification.incident_id == incident_id, Notification.status == "pending")
        .values(status="cancelled", last_error="incident resolved")
        .execution_options(synchronize_session=False)
    )
    _event(session, incident_id, now, "resolved", actor=by, reason=reason)
    return True


def auto_resolve(sessions: sessionmaker[Session], config: Config, now: datetime) -> int:
    """Resolve open incidents quiet for their policy's `auto_resolve_minutes`."""
    count = 0
    with sessions.begin() as session:
        for inc in session.scalars(select(Incident).where(Incident.state.in_(OPEN_STATES))).all():
            quiet = float(inc.policy.get("auto_resolve_minutes", 120))
            if should_auto_resolve(_facts(inc), now, quiet):
                count += resolve(
                    session,
                    inc.id,
                    by="tocsin",
                    now=now,
                    reason=f"no new signal for {quiet:g} minutes",
                )
    return count


def audit(session: Session, now: datetime) -> list[str]:
    """Problems with running escalations: a triggered incident with no next step left is fine
    only if every step has fired; one with a due time long past means the tick is not running."""
    problems = []
    q = select(Incident).where(Incident.state.in_([TRIGGERED, ACKNOWLEDGED]))
    for inc in session.scalars(q).all():
        steps_left = inc.next_step < len(inc.policy.get("steps", []))
        if inc.state == TRIGGERED and inc.next_due_at is None and steps_left:
            problems.append(f"incident {inc.id}: triggered with steps left but no due time")
        elif inc.next_due_at is not None and now - inc.next_due_at > timedelta(minutes=5):
            problems.append(
                f"incident {inc.id}: step {inc.next_step} overdue since "
                f"{inc.next_due_at.isoformat()} (is beat running?)"
            )
    return problems


def _row(inc: Incident) -> dict[str, Any]:
    return {
        "id": inc.id,
        "topic": inc.topic,
        "title": inc.title,
        "state": inc.state,
        "severity": inc.severity,
        "kinds": list(inc.kinds),
        "peak": inc.peak,
        "opened_at": inc.opened_at.isoformat(),
        "updated_at": inc.updated_at.isoformat(),
        "acknowledged_at": inc.acknowledged_at.isoformat() if inc.acknowledged_at else None,
        "acknowledged_by": inc.acknowledged_by,
        "resolved_at": inc.resolved_at.isoformat() if inc.resolved_at else None,
        "next_due_at": inc.next_due_at.isoformat() if inc.next_due_at else None,
        "explanations": list(inc.summary.get("explanations", [])),
    }


def list_incidents(
    session: Session, *, open_only: bool = False, limit: int = 50
) -> list[dict[str, Any]]:
    q = select(Incident).order_by(Incident.opened_at.desc()).limit(limit)
    if open_only:
        q = q.where(Incident.state != RESOLVED)
    return [_row(i) for i in session.scalars(q)]


def get_incident(session: Session, incident_id: int) -> dict[str, Any] | None:
    inc = session.get(Incident, incident_id)
    if inc is None:
        return None
    data = _row(inc)
    data["timeline"] = [
        {"at": e.at.isoformat(), "kind": e.kind, "actor": e.actor, "detail": e.detail}
        for e in session.scalars(
            select(IncidentEvent)
            .where(IncidentEvent.incident_id == incident_id)
            .order_by(IncidentEvent.at, IncidentEvent.id)
        )
    ]
    data["signals"] = [
        {
            "id": s.id,
            "kind": s.kind,
            "at": s.at.isoformat(),
            "severity": s.severity,
            "explanation": s.explanation,
            "top_mentions": s.top_mentions,
            "evidence": s.evidence,
        }
        for s in session.scalars(
            select(SignalRow).where(SignalRow.incident_id == incident_id).order_by(SignalRow.at)
        )
    ]
    data["notifications"] = [
        {
            "id": n.id,
            "step": n.step,
            "recipient": n.recipient,
            "role": n.role,
            "channel": n.channel,
            "status": n.status,
            "sent_at": n.sent_at.isoformat() if n.sent_at else None,
        }
        for n in session.scalars(
            select(Notification)
            .where(Notification.incident_id == incident_id)
            .order_by(Notification.id)
        )
    ]
    return data


__all__ = [
    "AckResult",
    "acknowledge",
    "audit",
    "auto_resolve",
    "escalation_tick",
    "get_incident",
    "list_incidents",
    "observe",
    "resolve",
]
