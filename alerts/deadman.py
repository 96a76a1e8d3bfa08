"""The dead man's switch: tocsin pages someone when its own pipeline stalls.

Every minute (`run_deadman`, a plain function of sessions, config and now; the thin task is
`alerts.deadman` in alerts/tasks.py):

1. Read the heartbeats (`worker.heartbeat`) and the outbox, and list what is stalled
   (`check_pipeline`):
   - **evaluation**: no topic evaluated for `evaluation_minutes`;
   - **beat**: the escalation tick (every two seconds, driven by beat) silent for `beat_minutes`
     — beat, or every worker of the `alerts` queue, is down;
   - **outbox**: a notification due for more than `outbox_minutes` and still not delivered.
   A job that never ran counts from the first time the switch itself ran, so a fresh install
   does not page before the jobs had a chance to start.
2. Page the people of `notify` (default: the `oncall` group) **directly through a channel**, not
   through the outbox (which may be what is stuck), and through a *different* channel from the
   one incidents use: `channel` if set, else the first configured channel that the policies' first
   steps do not use, else the console. Page again only when a new component stalls or after
   `repeat_minutes`; say so once when everything recovers.
3. Ping the external heartbeat URL (`heartbeat_url`, else `TOCSIN_HEARTBEAT_URL`) on every run,
   healthchecks-style: `URL` when healthy, `URL/fail` when something is stalled, so a monitor
   outside tocsin notices when nothing runs at all (the switch itself is then silent).
4. Record its own heartbeat with what is stalled and when it last paged.

Configured in `[deadman]` of tocsin.toml (all optional).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from alerts.channels.base import ChannelAdapter, OutgoingMessage
from worker.config import Config
from worker.heartbeat import DEADMAN, ESCALATION_TICK, EVALUATE, heartbeats, record_heartbeat
from worker.storage.models import Notification

log = logging.getLogger("tocsin.deadman")

_Minutes = Annotated[float, Field(strict=True, gt=0, le=10_080, allow_inf_nan=False)]
_Name = Annotated[str, Field(strict=True, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")]


class DeadmanConfig(BaseModel):
    """`[deadman]` in tocsin.toml."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    evaluation_minutes: _Minutes = 15
    beat_minutes: _Minutes = 3
    outbox_minutes: _Minutes = 10
    repeat_minutes: _Minutes = 60
    notify: list[_Name] = ["oncall"]
    channel: _Name | None = None
    heartbeat_url: (
        Annotated[str, Field(strict=True, pattern=r"^https?://\S+$", max_length=2000)] | None
    ) = None

    def cross_check(self, config: Config) -> tuple[tuple[str | int, ...], str] | None:
        """Names used here must exist (called by the config loader once the file is read)."""
        if self.channel is not None and self.channel not in config.channels:
            return (
                "channel",
            ), f"unknown channel {self.channel!r} (define [channels.{self.channel}])"
        for i, target in enumerate(self.notify):
            if not config.resolve(target):
                return ("notify", i), f"unknown person or group {target!r}"
        return None


@dataclass(frozen=True)
class Stall:
    component: str  # evaluation, beat or outbox
    detail: str


@dataclass
class DeadmanResult:
    stalls: list[Stall] = field(default_factory=list)
    paged: list[str] = field(default_factory=list)
    pinged: str | None = None


def settings_of(config: Config) -> DeadmanConfig:
    value = config.sections.get("deadman")
    return value if isinstance(value, DeadmanConfig) else DeadmanConfig()


def _minutes(delta: timedelta) -> str:
    return f"{int(delta.total_seconds() // 60)} min"


def check_pipeline(
    session: Session, config: Config, now: datetime, settings: DeadmanConfig | None = None
) -> list[Stall]:
    """Step 1: what is stalled at `now` (empty when all is well)."""
    settings = settings or settings_of(config)
    beats = heartbeats(session)
    own = beats.get(DEADMAN)
    since = datetime.fromisoformat(own.detail["since"]) if own and own.detail.get("since") else now
    stalls: list[Stall] = []

    def stale(names: Sequence[str], limit: float) -> str | None:
        times = [b.at for n, b in beats.items() if n in names or n.startswith(f"{names[0]}:")]
        last = max(times) if times else None
        if last is None:
            return (
                f"never ran (watching for {_minutes(now - since)})"
                if now - since > timedelta(minutes=limit)
                else None
            )
        return (
            f"last ran {_minutes(now - last)} ago"
            if now - last > timedelta(minutes=limit)
            else None
        )

    if config.topics:
        why = stale([EVALUATE], settings.evaluation_minutes)
        if why:
            stalls.append(Stall("evaluation", f"no topic evaluated: {why}"))
    why = stale([ESCALATION_TICK], settings.beat_minutes)
    if why:
        stalls.append(Stall("beat", f"escalation tick not running (is beat up?): {why}"))
    cutoff = now - timedelta(minutes=settings.outbox_minutes)
    waiting, oldest = session.execute(
        select(func.count(), func.min(Notification.next_attempt_at)).where(
            Notification.status.in_(("pending", "sending")), Notification.next_attempt_at <= cutoff
        )
    ).one()
    if waiting and oldest is not None:
        stalls.append(
            Stall("outbox", f"{waiting} notification(s) due for over {_minutes(now - oldest)}")
        )
    return stalls


def pick_channel(config: Config, settings: DeadmanConfig) -> str:
    """Step 2's channel: configured, else one the policies' first steps do not use."""
    if settings.channel and settings.channel in config.channels:
        return settings.channel
    used = {c for p in config.policies.values() for c in (p.steps[0].channels if p.steps else ())}
    for name in config.channels:
        if name != "console" and name not in used:
            return name
    return "console"


def _messages(
    config: Config, settings: DeadmanConfig, stalls: Sequence[Stall]
) -> list[OutgoingMessage]:
    channel_name = pick_channel(config, settings)
    channel = config.channels.get(channel_name) or config.channels["console"]
    recovered = not stalls
    subject = (
        "[tocsin] pipeline recovered"
        if recovered
        else "[tocsin] PIPELINE STALLED: " + ", ".join(s.component for s in stalls)
    )
    lines = [f"{s.component}: {s.detail}" for s in stalls] or ["Every component is running again."]
    out = []
    seen: set[str] = set()
    targets = list(settings.notify)
    if not any(config.resolve(t) for t in targets) and config.policies.get("default"):
        # No `oncall` group in this file: whoever the default policy pages first.
        targets = list(config.policies["default"].steps[0].notify)
    for target in targets:
        for person in config.resolve(target):
            if person.id in seen:
                continue
            seen.add(person.id)
            if channel.type == "smtp":
                address = person.email or person.id
            elif channel.type == "webhook":
                address = str(channel.options.get("url"))
            else:
                address = person.id
            out.append(
                OutgoingMessage(
                    notification_id=0,
                    incident_id=None,
                    channel=channel.name,
                    recipient=person.id,
                    role="operator",
                    address=address,
                    subject=subject,
                    body={
                        "kind": "deadman",
                        "recipient_name": person.name,
                        "title": subject,
                        "explanations": lines,
                        "stalled": [s.component for s in stalls],
                    },
                )
            )
    return out


def run_deadman(
    sessions: sessionmaker[Session],
    config: Config,
    now: datetime,
    *,
    channels: Mapping[str, ChannelAdapter],
    ping: Callable[[str], Any] | None = None,
) -> DeadmanResult:
    """Steps 1–4. Safe to run twice: a second run in the same minute finds the page recorded."""
    settings = settings_of(config)
    with sessions.begin() as session:
        stalls = check_pipeline(session, config, now, settings)
        own = heartbeats(session).get(DEADMAN)
        state: dict[str, Any] = dict(own.detail) if own else {}
    state.setdefault("since", now.isoformat())
    active = set(state.get("active", []))
    current = {s.component for s in stalls}
    paged_at = datetime.fromisoformat(state["paged_at"]) if state.get("paged_at") else None
    due = bool(current - active) or bool(
        current and paged_at and now - paged_at >= timedelta(minutes=settings.repeat_minutes)
    )
    recovered = bool(active) and not current
    result = DeadmanResult(stalls=stalls)
    if due or recovered:
        for message in _messages(config, settings, stalls):
            adapter = channels.get(message.channel) or channels["console"]
            try:
                adapter.send(message)
                result.paged.append(f"{message.recipient}:{message.channel}")
            except Exception as exc:  # the switch must never die of the channel it reports on
                log.error(
                    "deadman: page to %s via %s failed: %s", message.recipient, message.channel, exc
                )
        if due and result.paged:
            state["paged_at"] = now.isoformat()
    state["active"] = sorted(current)
    url = settings.heartbeat_url or os.environ.get("TOCSIN_HEARTBEAT_URL")
    if url:
        target = url.rstrip("/") + "/fail" if stalls else url
        try:
            (ping or _http_ping)(target)
            result.pinged = target
        except Exception as exc:
            log.warning("deadman: heartbeat ping failed: %s", type(exc).__name__)
    with sessions.begin() as session:
        record_heartbeat(session, DEADMAN, now, detail=state)
    for s in stalls:
        log.error("deadman: %s stalled: %s", s.component, s.detail)
    return result


def _http_ping(url: str) -> None:
    import httpx

    httpx.get(url, timeout=10).raise_for_status()
