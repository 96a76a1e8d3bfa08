"""Two-way channels on a real database, real vendor fakes on loopback and the real web app:
pages go out through the outbox, a signed Slack press / SMS reply / PagerDuty webhook
acknowledges, a forged one changes nothing, and delivered pages are updated afterwards."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from alerts.channels import build_channels
from alerts.outbox import LEASE, _claim_one, dispatch_due, plan_follow_ups
from alerts.service import escalation_tick, observe, resolve_by_hand
from alerts.web import create_app
from tests.fakes.pagerduty import PagerDutyFake, invalid, signed_webhook
from tests.fakes.slack import SlackFake, press
from tests.fakes.slack import error as slack_error
from tests.fakes.teams import TeamsFake, flow_error
from tests.fakes.twilio import TwilioFake, signed_reply, twilio_error
from tests.fakes.vendor import Answer
from tests.fakes.webhook_receiver import WebhookReceiver
from worker.config import parse_config
from worker.ingest import ingest_page
from worker.model import Evidence, Mention, Signal
from worker.pipeline import store_signals
from worker.runtime import Runtime
from worker.settings import Settings
from worker.storage.db import make_engine
from worker.storage.models import Acknowledgement, DeliveryAttempt, Incident, Notification

T0 = datetime(2026, 9, 1, 14, 0, tzinfo=UTC)
SECRET = "two-way-test-secret-0123456789"
SIGNING = "slack-signing-secret"
PD_HOOK = "pagerduty-webhook-secret"
WHSEC = "whsec_" + base64.b64encode(b"receiver-key-0123456789").decode()

CONFIG = """
[[topics]]
name = "acme"
display_name = "Acme"
[[topics]]
name = "beta"
display_name = "Beta"

[people.alice]
name = "Alice"
phone = "+1 555 010 0001"
slack_user_id = "U0ALICE"
teams = "alice@example.com"
[people.carol]
name = "Carol"
phone = "+15550100002"

[groups]
oncall = ["alice"]
leadership = ["carol"]

[policies.default]
steps = [
  {{ after_minutes = 0, notify = ["oncall"], channels = {first} }},
  {{ after_minutes = 15, notify = ["leadership"], channels = ["sms"] }},
]
severe_at = 0

[channels.slack]
type = "slack"
api_url = "{slack}"
token_env = "SLACK_TOKEN"
signing_secret_env = "SLACK_SIGNING_SECRET"
channel = "C0TOCSIN"

[channels.sms]
type = "twilio"
api_url = "{twilio}"
account_sid_env = "TWILIO_SID"
auth_token_env = "TWILIO_TOKEN"
from = "+15005550006"

[channels.pagerduty]
type = "pagerduty"
api_url = "{pd}"
routing_key_env = "PD_KEY"
webhook_secret_env = "PD_WEBHOOK_SECRET"

[channels.hook]
type = "webhook"
url = "{hook}/in"
secret_env = "HOOK_SECRET"

[channels.teams]
type = "teams"
url_env = "TEAMS_URL"

[channels.chat]
type = "apprise"
url_env = "APPRISE_URL"
"""


class Vendors:
    def __init__(self) -> None:
        self.slack, self.twilio, self.pd = SlackFake(), TwilioFake(), PagerDutyFake()
        self.hook = WebhookReceiver(WHSEC)
        self.teams = TeamsFake()
        self.chat = WebhookReceiver()  # Apprise's json:// posts here

    def all(self) -> tuple[Any, ...]:
        return (self.slack, self.twilio, self.pd, self.hook, self.teams, self.chat)


@pytest.fixture
def vendors(monkeypatch: pytest.MonkeyPatch) -> Iterator[Vendors]:
    v = Vendors()
    for fake in v.all():
        fake.start()
    monkeypatch.setenv("SLACK_TOKEN", v.slack.token)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING)
    monkeypatch.setenv("TWILIO_SID", v.twilio.sid)
    monkeypatch.setenv("TWILIO_TOKEN", v.twilio.token)
    monkeypatch.setenv("PD_KEY", v.pd.routing_key)
    monkeypatch.setenv("PD_WEBHOOK_SECRET", PD_HOOK)
    monkeypatch.setenv("HOOK_SECRET", WHSEC)
    monkeypatch.setenv("TEAMS_URL", v.teams.flow_url)
    monkeypatch.setenv("APPRISE_URL", v.chat.url.replace("http://", "json://") + "/notify")
    yield v
    for fake in v.all():
        fake.stop()


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def runtime(
    db_url: str, tmp_path: Path, v: Vendors, first: str = '["slack", "sms", "pagerduty"]'
) -> Runtime:
    engine = make_engine(db_url)
    settings = Settings(
        data_dir=tmp_path,
        database_url=db_url,
        broker_url="memory://",
        secret_key=SECRET,
        base_url="https://tocsin.example",
        config_path=tmp_path / "none.toml",
        sentry_dsn=None,
        web_host="127.0.0.1",
        web_port=0,
    )
    text = CONFIG.format(
        first=first, slack=v.slack.url, twilio=v.twilio.url, pd=v.pd.url, hook=v.hook.url
    )
    from worker.storage.db import make_sessionmaker

    return Runtime(settings, parse_config(text), engine, make_sessionmaker(engine), tmp_path)


def open_and_page(rt: Runtime, at: datetime = T0, topic: str = "acme") -> int:
    with rt.sessions.begin() as s:
        page = [
            Mention("rss", f"{at}-{i}", at - timedelta(minutes=3), "Acme scam") for i in range(3)
        ]
        ingest_page(s, page, at, bucket_seconds=300, topic=topic)
        ev = Evidence(at - timedelta(minutes=5), at, 30, 3, 1, 6, 1e-9)
        sig = Signal(topic, "volume_spike", at, 0.99, 2, "Spike: 30 mentions", ev)
        (inc_id,) = observe(s, rt.config, store_signals(s, [sig]), at)
    escalation_tick(rt.sessions, rt.config, at, base_url=rt.settings.base_url, secret_key=SECRET)
    return inc_id


def deliver(rt: Runtime, now: datetime) -> int:
    plan_follow_ups(rt.sessions, rt.config, now)
    return dispatch_due(
        rt.sessions, build_channels(rt.config, rt.outbox_dir), now, config=rt.config
    )


def state(rt: Runtime, inc_id: int) -> tuple[str, str | None]:
    with rt.sessions() as s:
        inc = s.get(Incident, inc_id)
        assert inc is not None
        return inc.state, inc.acknowledged_by


def test_page_on_slack_sms_pagerduty_then_a_signed_slack_press_acknowledges_and_updates(
    db_url: str,
    sessions: sessionmaker[Session],
    tmp_path: Path,
    vendors: Vendors,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Forged presses (wrong secret, a timestamp six minutes old, an unknown user) change
    nothing; the real one acknowledges as Alice via Slack, the Slack message loses its buttons,
    PagerDuty gets `acknowledge` with the trigger's dedup_key, and escalation stops."""
    rt = runtime(db_url, tmp_path, vendors)
    clock = Clock()
    client = TestClient(create_app(lambda: rt, clock=clock), base_url=rt.settings.base_url)
    inc_id = open_and_page(rt)
    assert deliver(rt, T0) == 3
    (posted,) = vendors.slack.posted()
    assert posted["channel"] == "C0TOCSIN" and "<@U0ALICE>" in posted["blocks"][1]["text"]["text"]
    (sms,) = vendors.twilio.sent
    assert sms["To"] == "+15550100001" and f"Reply ACK {inc_id}" in sms["Body"]
    assert "https://tocsin.example/incidents/" in sms["Body"]
    (trigger,) = vendors.pd.events
    clock.now = T0 + timedelta(minutes=2)
    ts = int(clock.now.timestamp())
    for secret, stamp, user, status in (
        ("not-the-secret", ts, "U0ALICE", 401),
        (SIGNING, ts - 6 * 60, "U0ALICE", 401),
        (SIGNING, ts, "U0MALLORY", 403),
    ):
        body, headers = press(secret, user, inc_id, timestamp=stamp)
        r = client.post("/integrations/slack/interactions", content=body, headers=headers)
        assert r.status_code == status, (secret, stamp, user)
        assert state(rt, inc_id) == ("triggered", None)
    assert f"refused a press on incident {inc_id} by unknown user U0MALLORY" in caplog.text
    body, headers = press(SIGNING, "U0ALICE", inc_id, timestamp=ts)
    r = client.post("/integrations/slack/interactions", content=body, headers=headers)
    assert r.status_code == 200
    assert state(rt, inc_id) == ("acknowledged", "alice")
    with rt.sessions() as s:
        assert s.scalars(select(Acknowledgement.via)).all() == ["slack"]

    assert deliver(rt, clock.now) == 2  # chat.update and PagerDuty's acknowledge
    (after,) = vendors.slack.posted()
    assert "Acknowledged by Alice" in str(after["blocks"]) and "tocsin_ack" not in str(after)
    assert [e["event_action"] for e in vendors.pd.events] == ["trigger", "acknowledge"]
    assert vendors.pd.events[1]["dedup_key"] == trigger["dedup_key"]
    assert vendors.pd.incidents == {trigger["dedup_key"]: "acknowledged"}
    assert plan_follow_ups(rt.sessions, rt.config, clock.now) == 0  # once only
    # Escalation stopped: leadership's step never fires.
    later = T0 + timedelta(minutes=30)
    assert escalation_tick(rt.sessions, rt.config, later, base_url="x", secret_key=SECRET) == 0
    deliver(rt, later)
    assert [m["To"] for m in vendors.twilio.sent] == ["+15550100001"]
    # Resolved by hand: PagerDuty's incident resolves with the same dedup_key, and the Slack
    # message says so; a text message cannot be edited, so nothing more goes by SMS.
    with rt.sessions.begin() as s:
        assert resolve_by_hand(s, inc_id, by="alice", via="cli", now=later) == "done"
    assert deliver(rt, later) == 2
    assert [e["event_action"] for e in vendors.pd.events] == ["trigger", "acknowledge", "resolve"]
    assert vendors.pd.incidents == {trigger["dedup_key"]: "resolved"}
    (final,) = vendors.slack.posted()
    assert "Resolved" in str(final["blocks"]) and "tocsin_ack" not in str(final)
    assert [m["To"] for m in vendors.twilio.sent] == ["+15550100001"]
    rt.dispose()


def test_an_sms_reply_acknowledges_and_a_forged_one_changes_nothing(
    sqlite_url: str, tmp_path: Path, vendors: Vendors
) -> None:
    rt = runtime(sqlite_url, tmp_path, vendors)
    client = TestClient(create_app(lambda: rt, clock=Clock()), base_url=rt.settings.base_url)
    inc_id = open_and_page(rt)
    deliver(rt, T0)
    url = "https://tocsin.example/integrations/twilio/sms"
    body, headers = signed_reply(url, "not-the-token", "+15550100001", "ACK")
    r = client.post("/integrations/twilio/sms", content=body, headers=headers)
    assert r.status_code == 403 and state(rt, inc_id) == ("triggered", None)
    body, headers = signed_reply(url, vendors.twilio.token, "+15550100001", "what is this?")
    r = client.post("/integrations/twilio/sms", content=body, headers=headers)
    assert r.status_code == 200 and "reply ACK" in r.text and state(rt, inc_id)[0] == "triggered"
    body, headers = signed_reply(url, vendors.twilio.token, "+15550100001", "ack")
    r = client.post("/integrations/twilio/sms", content=body, headers=headers)
    assert r.status_code == 200 and f"incident {inc_id} acknowledged" in r.text
    assert r.headers["content-type"].startswith("application/xml")
    assert state(rt, inc_id) == ("acknowledged", "alice")
    with rt.sessions() as s:
        assert s.scalars(select(Acknowledgement.via)).all() == ["sms"]
    rt.dispose()


def test_sms_reply_forms_ack_with_an_id_and_1_and_what_an_unknown_phone_gets(
    sqlite_url: str, tmp_path: Path, vendors: Vendors
) -> None:
    """`ACK <id>` acknowledges that incident even when it is not the newest; `1` the newest one
    still waiting; then `ACK` finds nothing waiting; `ACK 999` names no incident; a phone that
    is not in [people] gets an empty reply and acknowledges nothing."""
    rt = runtime(sqlite_url, tmp_path, vendors)
    client = TestClient(create_app(lambda: rt, clock=Clock()), base_url=rt.settings.base_url)
    older = open_and_page(rt, T0, "acme")
    newer = open_and_page(rt, T0 + timedelta(minutes=1), "beta")
    deliver(rt, T0 + timedelta(minutes=1))
    url = "https://tocsin.example/integrations/twilio/sms"

    def reply(text: str, sender: str = "+15550100001") -> str:
        body, headers = signed_reply(url, vendors.twilio.token, sender, text)
        r = client.post("/integrations/twilio/sms", content=body, headers=headers)
        assert r.status_code == 200
        return r.text

    assert "<Message>" not in reply("ACK", sender="+15550109999")
    assert (state(rt, older)[0], state(rt, newer)[0]) == ("triggered", "triggered")
    assert f"incident {older} acknowledged" in reply(f"ACK {older}")
    assert (state(rt, older)[0], state(rt, newer)[0]) == ("acknowledged", "triggered")
    assert f"incident {newer} acknowledged" in reply("1")
    assert state(rt, newer) == ("acknowledged", "alice")
    assert "nothing waiting" in reply("ACK")
    assert "no incident 999" in reply("ack 999")
    with rt.sessions() as s:
        assert s.scalars(select(Acknowledgement.via)).all() == ["sms", "sms"]
    rt.dispose()


def test_an_acknowledgement_in_pagerduty_acknowledges_ours(
    sqlite_url: str, tmp_path: Path, vendors: Vendors
) -> None:
    rt = runtime(sqlite_url, tmp_path, vendors)
    client = TestClient(create_app(lambda: rt, clock=Clock()), base_url=rt.settings.base_url)
    inc_id = open_and_page(rt)
    deliver(rt, T0)
    key = vendors.pd.events[0]["dedup_key"]
    body, headers = signed_webhook("wrong-secret", "incident.acknowledged", key)
    assert client.post("/integrations/pagerduty", content=body, headers=headers).status_code == 401
    assert state(rt, inc_id) == ("triggered", None)
    body, headers = signed_webhook(PD_HOOK, "incident.acknowledged", key, agent="Dana Ops")
    assert client.post("/integrations/pagerduty", content=body, headers=headers).status_code == 200
    assert state(rt, inc_id) == ("acknowledged", "Dana Ops (PagerDuty)")
    with rt.sessions() as s:
        assert s.scalars(select(Acknowledgement.via)).all() == ["pagerduty"]
    rt.dispose()


def test_a_permanent_failure_falls_back_to_the_next_contact_method(
    db_url: str, sessions: sessionmaker[Session], tmp_path: Path, vendors: Vendors
) -> None:
    """Slack refuses (channel_not_found): the page goes by SMS, Alice's next contact method,
    and both attempts are recorded."""
    rt = runtime(db_url, tmp_path, vendors, first='["slack"]')
    vendors.slack.channels.clear()
    open_and_page(rt)
    assert deliver(rt, T0) == 1  # slack failed; the SMS, written due now, went in the same run
    assert [m["To"] for m in vendors.twilio.sent] == ["+15550100001"]
    with rt.sessions() as s:
        rows = s.scalars(select(Notification).order_by(Notification.id)).all()
        assert [(n.channel, n.status) for n in rows] == [("slack", "failed"), ("sms", "sent")]
        assert "channel_not_found (falling back to sms)" in (rows[0].last_error or "")
        attempts = s.scalars(select(DeliveryAttempt).order_by(DeliveryAttempt.id)).all()
        assert [(a.channel, a.ok) for a in attempts] == [("slack", False), ("sms", True)]
    rt.dispose()


def test_retry_after_is_honoured_and_a_crash_redelivers_with_the_same_id(
    db_url: str, sessions: sessionmaker[Session], tmp_path: Path, vendors: Vendors
) -> None:
    rt = runtime(db_url, tmp_path, vendors, first='["hook"]')
    open_and_page(rt)
    vendors.hook.fail_next(Answer(429, b"slow down", {"Retry-After": "120"}))
    assert deliver(rt, T0) == 0
    with rt.sessions() as s:
        n = s.scalars(select(Notification)).one()
        assert n.status == "pending" and n.next_attempt_at is not None
        assert n.next_attempt_at >= T0 + timedelta(seconds=120)
        due = n.next_attempt_at
    assert deliver(rt, due - timedelta(seconds=1)) == 0  # not before Retry-After
    # The worker sends and dies before recording: the row stays 'sending' under its lease.
    msg = _claim_one(rt.sessions, due)
    assert msg is not None
    build_channels(rt.config, rt.outbox_dir)["hook"].send(msg)
    assert deliver(rt, due + LEASE / 2) == 0  # still leased: nobody sends it again yet
    assert deliver(rt, due + LEASE + timedelta(seconds=1)) == 1  # redelivered within a minute
    ids = [r.headers["webhook-id"] for r in vendors.hook.requests if r.status == 204]
    assert len(ids) == 2 and ids[0] == ids[1] == msg.uid
    assert list(vendors.hook.processed) == [msg.uid] and vendors.hook.duplicates == 1
    assert vendors.hook.processed[msg.uid]["notification_id"] == msg.uid
    rt.dispose()


RETRY_AFTER = {"Retry-After": "120"}
#: Per channel, the vendor's own answers: rate limited (429 with Retry-After), a server error
#: (5xx), and a 4xx that cannot succeed by trying again; and where the page falls back then
#: (Alice's contact methods are phone, Slack, Teams, in that order).
ANSWERS: dict[str, tuple[str, Answer, Answer, Answer, str]] = {
    "slack": (
        "slack",
        Answer.json(429, {"ok": False, "error": "ratelimited"}, RETRY_AFTER),
        Answer.json(500, {"ok": False, "error": "internal_error"}),
        slack_error("invalid_auth"),  # Slack says it with HTTP 200
        "sms",
    ),
    "sms": (
        "twilio",
        twilio_error(429, 20429, "Too Many Requests", RETRY_AFTER),
        twilio_error(503, 20503, "Service Unavailable"),
        twilio_error(400, 21211, "Invalid 'To' Phone Number: +1555"),
        "slack",
    ),
    "pagerduty": (
        "pd",
        Answer.json(
            429,
            {"status": "throttle event", "message": "Requests are arriving too quickly."},
            RETRY_AFTER,
        ),
        Answer.json(502, {"status": "error", "message": "Bad Gateway"}),
        invalid("Invalid routing key"),
        "sms",
    ),
    "teams": (
        "teams",
        flow_error(429, "TooManyRequests", "Rate limit is exceeded.", RETRY_AFTER),
        flow_error(502, "BadGateway", "The server did not receive a response."),
        flow_error(404, "WorkflowNotFound", "The workflow could not be found."),
        "sms",
    ),
    "hook": (
        "hook",
        Answer(429, b"slow down", RETRY_AFTER),
        Answer(500, b"oops"),
        Answer(410, b"gone"),
        "sms",
    ),
}


def rows(rt: Runtime) -> list[tuple[str, str, int]]:
    with rt.sessions() as s:
        ns = s.scalars(select(Notification).order_by(Notification.id)).all()
        return [(n.channel, n.status, n.attempts) for n in ns]


def attempts(rt: Runtime) -> list[tuple[str, bool]]:
    with rt.sessions() as s:
        rows = s.scalars(select(DeliveryAttempt).order_by(DeliveryAttempt.id)).all()
        return [(a.channel, a.ok) for a in rows]


def due_at(rt: Runtime) -> datetime:
    with rt.sessions() as s:
        n = s.scalars(select(Notification).order_by(Notification.id)).first()
        assert n is not None and n.next_attempt_at is not None
        due = n.next_attempt_at
        return due if due.tzinfo else due.replace(tzinfo=UTC)


@pytest.mark.parametrize("channel", sorted(ANSWERS))
def test_every_channel_retries_429_and_5xx_with_backoff_no_sooner_than_retry_after(
    channel: str, sqlite_url: str, tmp_path: Path, vendors: Vendors
) -> None:
    """429 with Retry-After: 120 waits at least 120 s; a 5xx backs off (60 s ± 20 % at the
    second attempt); a 5xx with Retry-After: 300 waits that long (more than the backoff); the
    fourth attempt gets through. Each attempt is one recorded row."""
    attr, limited, broken, _, _ = ANSWERS[channel]
    fake = getattr(vendors, attr)
    rt = runtime(sqlite_url, tmp_path, vendors, first=f'["{channel}"]')
    open_and_page(rt)
    fake.fail_next(limited)
    fake.fail_next(broken)
    fake.fail_next(Answer(broken.status, broken.body, {**broken.headers, "Retry-After": "300"}))
    assert deliver(rt, T0) == 0
    assert rows(rt) == [(channel, "pending", 1)]
    first = due_at(rt)
    assert first >= T0 + timedelta(seconds=120)
    calls = len(fake.requests)
    assert deliver(rt, first - timedelta(seconds=1)) == 0 and len(fake.requests) == calls
    assert deliver(rt, first) == 0
    second = due_at(rt)
    assert first + timedelta(seconds=48) <= second <= first + timedelta(seconds=72)
    assert deliver(rt, second) == 0
    third = due_at(rt)
    assert third >= second + timedelta(seconds=300)
    assert deliver(rt, third) == 1
    assert rows(rt) == [(channel, "sent", 4)]
    assert attempts(rt) == [(channel, False)] * 3 + [(channel, True)]
    rt.dispose()


@pytest.mark.parametrize("channel", sorted(ANSWERS))
def test_every_channel_gives_up_on_a_hopeless_4xx_and_falls_back_to_the_next_contact_method(
    channel: str, sqlite_url: str, tmp_path: Path, vendors: Vendors
) -> None:
    """A 4xx that cannot succeed (a revoked token, a bad number, a deleted flow, a gone hook) is
    not retried: the page goes out at once on Alice's next contact method, both attempts
    recorded, and the vendor is never called again for it."""
    attr, _, _, hopeless, fallback = ANSWERS[channel]
    fake = getattr(vendors, attr)
    rt = runtime(sqlite_url, tmp_path, vendors, first=f'["{channel}"]')
    open_and_page(rt)
    fake.fail_next(hopeless)
    assert deliver(rt, T0) == 1
    assert rows(rt) == [(channel, "failed", 1), (fallback, "sent", 1)]
    assert attempts(rt) == [(channel, False), (fallback, True)]
    calls = len(fake.requests)
    assert deliver(rt, T0 + timedelta(hours=1)) == 0 and len(fake.requests) == calls
    rt.dispose()


def test_apprise_retries_a_refusal_with_backoff(
    sqlite_url: str, tmp_path: Path, vendors: Vendors
) -> None:
    """Apprise says only yes or no (no status, no Retry-After): a refusal is retried with
    backoff (30 s ± 20 % after the first attempt), and the message carries the ack link."""
    rt = runtime(sqlite_url, tmp_path, vendors, first='["chat"]')
    open_and_page(rt)
    vendors.chat.fail_next(Answer(503))
    assert deliver(rt, T0) == 0
    assert rows(rt) == [("chat", "pending", 1)]
    due = due_at(rt)
    assert T0 + timedelta(seconds=24) <= due <= T0 + timedelta(seconds=36)
    assert deliver(rt, due) == 1
    assert "/ack/" in json.loads(vendors.chat.requests[-1].body)["message"]
    assert attempts(rt) == [("chat", False), ("chat", True)]
    rt.dispose()


def test_apprise_with_a_url_it_does_not_know_falls_back_at_once(
    sqlite_url: str, tmp_path: Path, vendors: Vendors, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APPRISE_URL", "nosuchscheme://nowhere")
    rt = runtime(sqlite_url, tmp_path, vendors, first='["chat"]')
    open_and_page(rt)
    assert deliver(rt, T0) == 1
    assert rows(rt) == [("chat", "failed", 1), ("sms", "sent", 1)]
    rt.dispose()
