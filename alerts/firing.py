"""Escalation firing: the beat tick that claims due incidents and writes their pages (the outbox).

`escalation_tick(sessions, config, now)` — one transaction:
1. Select incidents whose `next_due_at` has passed (SKIP LOCKED on PostgreSQL; SQLite serialises
   writers) and claim each with a conditional UPDATE on its fence; act only if one row changed.
2. A snoozed incident whose snooze has ended is triggered again and its escalation starts over
   from the first step, now (a new round; briefings already sent are not repeated).
3. Pending work left by `alerts.opening` when the incident got worse: the severe briefing (the
   last step, at once) and the re-page, at the new severity, of whoever the current step paged.
4. Otherwise the next step fires when its time has come.
5. Recipients are resolved now (`alerts.recipients`) and recorded in the `step_fired` timeline
   row; a target that reaches nobody is recorded as a `step_problem` (the auditor reports it).
Each page's idempotency key is (incident, round, step, person, channel), so a person is paged at
most once per step: the severe first page counts as the last step's page for leadership.

A briefing (a page whose role is not `on-call`: leadership) carries the briefing packet as of now,
kept as a packet version first (`alerts.packets.briefing_version`), so what an executive was told
is one of the kept versions: by e-mail (an `smtp` channel) the packet e-mail itself (text, HTML with
inline CSS, the chart as an inline PNG by `cid:`); on every other channel the five answers as the
first line and the signed link to the packet. If the packet cannot be built, the plain notification
goes out all the same (a briefing is never held back by its packet).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from alerts import escalation, recipients
from alerts.incidents import ACKNOWLEDGED, SNOOZED, TRIGGERED
from alerts.timeline import event
from alerts.tokens import make_ack_token, make_view_token
from worker.config import Config
from worker.localtime import show
from worker.storage.models import Incident, Notification

log = logging.getLogger("tocsin.alerts")

ACK_LINK_TTL = timedelta(hours=24)
VIEW_LINK_TTL = timedelta(days=7)
ESCALATING = (TRIGGERED, ACKNOWLEDGED, SNOOZED)


@dataclass(frozen=True)
class Links:
    base_url: str
    secret_key: str


def base_of(inc: Incident) -> datetime:
    return inc.escalation_base_at or inc.opened_at


def natural_due(inc: Incident, index: int) -> datetime | None:
    return escalation.due_at(inc.policy, index, base_of(inc))


def page_key(
    inc: Incident, step: int, role: str, person: str, channel: str, extra: str = ""
) -> str:
    """The page's idempotency key: one page per person, channel and step. On-call pages carry the
    escalation round (a snooze, reopening or reassignment pages the on-call manager again);
    briefings (leadership and other roles) do not: they are sent once per step per incident."""
    round_ = f"r{inc.escalation_round}:" if role == "on-call" else ""
    return f"inc{inc.id}:{round_}s{step}{extra}:{person}:{channel}"


def avail_tz(config: Config, person_id: str) -> str:
    return config.oncall.for_person(person_id, config.timezone).timezone


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def briefing_body(
    session: Session,
    config: Config,
    inc: Incident,
    now: datetime,
    channel: str,
    urls: dict[str, str],
    cache: dict[str, Any],
) -> dict[str, Any]:
    """What a briefing adds to its page's body: the five answers (every channel) and, for an
    e-mail channel, the packet e-mail's parts (with this person's own acknowledge link). The
    packet and its chart are built once per call of write_pages. If either fails, the page goes
    out without it (the plain notification, or the answers without the e-mail parts), and the failure is
    logged and put on the timeline (`packet_failed`)."""
    from alerts.packets import briefing_version, packet_email, packet_summary

    if "packet" not in cache:
        try:
            with session.begin_nested():
                version = briefing_version(session, config, inc.id, now)
                cache["packet"], cache["version"] = dict(version.content), version.version
        except Exception as exc:  # a briefing is never held back by its packet
            log.exception("incident %s: the briefing packet could not be built", inc.id)
            cache["packet"] = None
            event(session, inc.id, now, "packet_failed", error=f"{type(exc).__name__}: {exc}")
    packet = cache["packet"]
    if packet is None:
        return {}
    summary = packet_summary(packet)
    version_url = f"{urls['base']}/incidents/{inc.id}/packet/v/{cache['version']}?t={urls['view']}"
    out: dict[str, Any] = {
        "answers": dict(packet["answers"]),
        "explanations": [summary, *list(inc.summary.get("explanations", []))],
        "packet_version": cache["version"],
        "version_url": version_url,
    }
    kind = config.channels.get(channel)
    if kind is not None and kind.type == "smtp" and cache.get("png", b"") is not None:
        # One chart for every e-mail of this call; the parts are per person (their own ack link).
        try:
            parts = packet_email(
                packet, urls["packet"], ack_url=urls["ack"], version_url=version_url,
                png=cache.get("png"),
            )  # fmt: skip
        except Exception as exc:  # the chart: the e-mail goes out plain, with the answers
            log.exception("incident %s: the briefing e-mail could not be rendered", inc.id)
            cache["png"] = None
            event(session, inc.id, now, "packet_failed", error=f"{type(exc).__name__}: {exc}")
            return out
        cache["png"] = parts.images[0].data
        out.update(parts.to_body())
    return out


def _outbox_row(
    session: Session,
    inc: Incident,
    page: recipients.Page,
    key: str,
    subject: str,
    body: dict[str, Any],
    now: datetime,
    merged: str | None = None,
) -> Any:
    """The INSERT of one outbox row (nothing if its key exists): pending, or, for a briefing
    that rides on the same person's page (`merged`: why), cancelled at once for its own step."""
    values = {"step": page.for_step, "role": page.role, "status": "pending", "last_error": None}
    if merged is not None:
        values = {"step": page.briefs, "role": page.briefs_as, "status": "cancelled"}
        values["last_error"] = merged
    return (
        _insert(session)(Notification)
        .values(
            incident_id=inc.id,
            idempotency_key=key,
            fence=inc.fence,
            recipient=page.person.id,
            channel=page.channel,
            address=page.address,
            subject=subject,
            body=body,
            attempts=0,
            created_at=now,
            next_attempt_at=page.deliver_at,
            **values,
        )
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
    )


def write_pages(
    session: Session,
    config: Config,
    inc: Incident,
    pages: Sequence[recipients.Page],
    now: datetime,
    links: Links,
    *,
    extra: str = "",
    exclude: set[str] | None = None,
) -> list[str]:
    """Write one outbox row per page not written before (same key); return `person:channel` of
    each new row. Pages inside quiet hours are due when they end."""
    existing = set(
        session.scalars(
            select(Notification.idempotency_key).where(Notification.incident_id == inc.id)
        )
    )
    view = make_view_token(links.secret_key, inc.id, now + VIEW_LINK_TTL)
    packet_url = f"{links.base_url}/incidents/{inc.id}/packet?t={view}"
    sev = f"SEV{inc.severity}"
    written = []
    packet_cache: dict[str, Any] = {}
    for page in pages:
        key = page_key(inc, page.for_step, page.role, page.person.id, page.channel, extra)
        if key in existing or (exclude and page.person.id in exclude):
            continue
        existing.add(key)
        token = make_ack_token(links.secret_key, inc.id, page.person.id, now + ACK_LINK_TTL)
        verb = "acknowledge" if page.role == "on-call" else "briefing"
        subject = f"[{sev}] {inc.title} — {verb}".replace("\r", " ").replace("\n", " ")
        ack_url = f"{links.base_url}/ack/{token}"
        body: dict[str, Any] = {
            "incident_id": inc.id,
            "topic": inc.topic,
            "title": inc.title,
            "severity": inc.severity,
            "kinds": list(inc.kinds),
            "step": page.for_step,
            "role": page.role,
            "recipient_name": page.person.name,
            "ack_url": ack_url,
            "packet_url": packet_url,
            "explanations": list(inc.summary.get("explanations", [])),
            "opened_at": inc.opened_at.isoformat(),
            "opened_shown": show(inc.opened_at, config.timezone),
            # Set when leadership is briefed on an incident that became severe after
            # the on-call manager took it: "Alice is on it".
            "acknowledged_by": inc.acknowledged_by,
        }
        if page.role != "on-call" or page.briefs is not None:
            # A briefing carries the packet (see the module docstring), also when it rides on
            # the same person's page (recipients step 4).
            urls = {"base": links.base_url, "view": view, "packet": packet_url, "ack": ack_url}
            body.update(briefing_body(session, config, inc, now, page.channel, urls, packet_cache))
        session.execute(_outbox_row(session, inc, page, key, subject, body, now))
        if page.briefs is not None:
            # The briefing's own key is taken, so its step, when it comes due, does not brief
            # this person again; the row, never sent, says where the briefing went.
            briefed = page_key(
                inc, page.briefs, page.briefs_as, page.person.id, page.channel, extra
            )
            if briefed not in existing:
                existing.add(briefed)
                merged = {"incident_id": inc.id, "merged_into": key}
                why = "sent with this person's on-call page (same channel)"
                stmt = _outbox_row(session, inc, page, briefed, subject, merged, now, why)
                session.execute(stmt)
        written.append(f"{page.person.id}:{page.channel}")
        if page.deliver_at > now:
            event(
                session,
                inc.id,
                now,
                "page_deferred",
                person=page.person.id,
                channel=page.channel,
                until=page.deliver_at.isoformat(),
                until_shown=show(page.deliver_at, avail_tz(config, page.person.id)),
                reason="quiet hours",
            )
    return written


def fire_step(
    session: Session, config: Config, inc: Incident, index: int, now: datetime, links: Links
) -> set[str]:
    """Resolve and page step `index` (plus leadership at once when severe); record who and any
    problem in the timeline. Returns the ids of the people paged now."""
    targets = escalation.targets(inc.policy, index, inc.severity)
    result = recipients.plan(
        config, targets, inc.severity, now, step=index, assigned_to=inc.assigned_to
    )
    who = write_pages(session, config, inc, result.pages, now, links)
    event(
        session,
        inc.id,
        now,
        "step_fired",
        step=index,
        recipients=who,
        problems=list(result.problems),
    )
    for problem in result.problems:
        log.error("incident %s: %s", inc.id, problem)
        event(session, inc.id, now, "step_problem", step=index, problem=problem)
    return {w.split(":", 1)[0] for w in who}


def repage(
    session: Session,
    config: Config,
    inc: Incident,
    severity: int,
    step: int,
    now: datetime,
    links: Links,
    exclude: set[str],
) -> list[str]:
    """Page again, at the worse `severity`, whoever step `step` paged in this round."""
    prefixes = (f"inc{inc.id}:r{inc.escalation_round}:s{step}:", f"inc{inc.id}:s{step}:")
    rows = session.scalars(
        select(Notification)
        .where(
            Notification.incident_id == inc.id,
            or_(*(Notification.idempotency_key.startswith(p) for p in prefixes)),
        )
        .order_by(Notification.id)
    ).all()
    pages = []
    for n in rows:
        if isinstance(n.body, dict) and "merged_into" in n.body:
            continue  # a briefing that rode on the on-call page, which is paged again itself
        person = config.people.get(n.recipient)
        if person is None:
            continue
        avail = config.oncall.for_person(person.id, config.timezone)
        deliver_at = recipients.quiet_until(avail, severity, now) or now
        pages.append(recipients.Page(person, n.role, n.channel, n.address, step, deliver_at))
    who = write_pages(
        session, config, inc, pages, now, links, extra=f":sev{severity}", exclude=exclude
    )
    if who:
        event(session, inc.id, now, "repaged", step=step, severity=severity, recipients=who)
    return who


def wake(inc: Incident, now: datetime) -> None:
    """Step 2: the snooze has ended. The escalation starts over from its first step, now (a new
    round: the on-call step pages again; briefings already sent are not repeated)."""
    inc.state = TRIGGERED
    inc.snoozed_until = None
    inc.acknowledged_at = inc.acknowledged_by = None
    inc.escalation_round += 1
    inc.next_step = 0
    inc.escalation_base_at = now


def advance(session: Session, config: Config, inc: Incident, now: datetime, links: Links) -> bool:
    """Steps 2–4 for one claimed incident; True when anything was paged or decided."""
    steps = inc.policy.get("steps", [])
    last = len(steps) - 1
    pending = dict(inc.summary.get("pending") or {})
    acted = False
    if inc.state == SNOOZED and inc.snoozed_until is not None and inc.snoozed_until <= now:
        wake(inc, now)
        event(session, inc.id, now, "snooze_ended")
        acted = True
    paged: set[str] = set()
    if pending.get("severe") and last >= 1:
        paged = fire_step(session, config, inc, last, now, links)
        event(session, inc.id, now, "escalated_severe", severity=inc.severity, step=last)
        inc.next_step = max(inc.next_step, last + 1)
        acted = True
    elif inc.state == TRIGGERED:
        due = natural_due(inc, inc.next_step)
        if due is not None and due <= now:
            paged = fire_step(session, config, inc, inc.next_step, now, links)
            inc.next_step += 1
            acted = True
    if pending.get("repage") and inc.state == TRIGGERED and inc.next_step > 0:
        step = int(pending.get("repage_step", inc.next_step - 1))
        repage(session, config, inc, int(pending["repage"]), step, now, links, paged)
        acted = True
    if pending:
        inc.summary = {k: v for k, v in inc.summary.items() if k != "pending"}
    if inc.state == TRIGGERED:
        inc.next_due_at = natural_due(inc, inc.next_step)
    elif inc.state == SNOOZED:
        inc.next_due_at = inc.snoozed_until
    else:  # acknowledged: that was the severe briefing for leadership; nothing repeats
        inc.next_due_at = None
    return acted


def escalation_tick(
    sessions: sessionmaker[Session],
    config: Config,
    now: datetime,
    *,
    base_url: str,
    secret_key: str,
    limit: int = 50,
) -> int:
    """Steps 1–5 (see the module docstring). Returns how many incidents paged or woke."""
    links = Links(base_url, secret_key)
    fired = 0
    with sessions.begin() as session:
        q = (
            select(Incident)
            .where(
                Incident.state.in_(ESCALATING),
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
                    Incident.state.in_(ESCALATING),
                )
                .values(fence=inc.fence + 1)
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                continue
            session.refresh(inc)
            fired += advance(session, config, inc, now, links)
    return fired


__all__ = ["Links", "advance", "escalation_tick", "fire_step", "page_key", "repage"]
