"""End to end, two-way: `tocsin run` (a real Celery worker with its beat on Redis, PostgreSQL, the
web app) pages the on-call manager on Slack, by SMS and on PagerDuty (loopback fakes); a signed
Slack press acknowledges and escalation stops, a forged one changes nothing; the Slack message
and PagerDuty follow (chat.update, `acknowledge` with the same dedup_key); an SMS reply
acknowledges a second incident.

The incidents are opened in the database by the test (detection end to end is test_live.py);
everything after that — the step firing, delivery, the inbound routes, the follow-ups — is the
running product.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from alerts.service import observe
from tests.e2e.test_live import free_port, wait_for
from tests.fakes.pagerduty import PagerDutyFake
from tests.fakes.slack import SlackFake, press
from tests.fakes.twilio import TwilioFake, signed_reply
from worker.config import load_config
from worker.model import Evidence, Signal
from worker.pipeline import store_signals
from worker.storage.db import make_engine, make_sessionmaker
from worker.storage.models import Acknowledgement, Incident, Notification

pytestmark = pytest.mark.e2e
SIGNING = "slack-signing-secret-e2e"
LEADERSHIP_AFTER = timedelta(seconds=45)


@pytest.fixture
def fakes() -> Iterator[tuple[SlackFake, TwilioFake, PagerDutyFake]]:
    started = (SlackFake(), TwilioFake(), PagerDutyFake())
    for f in started:
        f.start()
    yield started
    for f in started:
        f.stop()


def write_config(path: Path, slack: SlackFake, twilio: TwilioFake, pd: PagerDutyFake) -> None:
    path.write_text(
        f"""
[[topics]]
name = "acme"
display_name = "Acme"
[[topics]]
name = "beta"
display_name = "Beta"

[people.alice]
name = "Alice"
phone = "+15550100001"
slack_user_id = "U0ALICE"
[people.carol]
name = "Carol"
phone = "+15550100002"

[groups]
oncall = ["alice"]
leadership = ["carol"]

[policies.default]
steps = [
  {{ after_minutes = 0, notify = ["oncall"], channels = ["slack", "sms", "pagerduty"] }},
  {{ after_minutes = {LEADERSHIP_AFTER.total_seconds() / 60}, notify = ["leadership"], channels = ["sms"] }},
]
severe_at = 0

[channels.slack]
type = "slack"
api_url = "{slack.url}"
token_env = "SLACK_TOKEN"
signing_secret_env = "SLACK_SIGNING_SECRET"
channel = "C0TOCSIN"

[channels.sms]
type = "twilio"
api_url = "{twilio.url}"
account_sid_env = "TWILIO_ACCOUNT_SID"
auth_token_env = "TWILIO_AUTH_TOKEN"
from = "{twilio.number}"

[channels.pagerduty]
type = "pagerduty"
api_url = "{pd.url}"
routing_key_env = "PAGERDUTY_ROUTING_KEY"
""",
        encoding="utf-8",
    )


def open_incident(sessions: Any, config: Any, topic: str) -> int:
    now = datetime.now(UTC)
    with sessions.begin() as s:
        ev = Evidence(now - timedelta(minutes=5), now, 40, 4, 1, 8, 1e-9)
        sig = Signal(topic, "volume_spike", now, 0.99, 2, f"{topic}: 40 mentions, 10x usual", ev)
        (inc_id,) = observe(s, config, store_signals(s, [sig]), now)
    return int(inc_id)


def test_slack_sms_pagerduty_pages_and_acknowledgements_with_the_real_worker(
    tmp_path: Path,
    pg_database_factory: Any,
    redis_url: str,
    fakes: tuple[SlackFake, TwilioFake, PagerDutyFake],
) -> None:
    slack, twilio, pd = fakes
    config_path = tmp_path / "tocsin.toml"
    write_config(config_path, slack, twilio, pd)
    db_url = pg_database_factory()
    web_port = free_port()
    base = f"http://127.0.0.1:{web_port}"
    env = {
        **os.environ,
        "TOCSIN_DATABASE_URL": db_url,
        "TOCSIN_BROKER_URL": redis_url,
        "TOCSIN_DATA_DIR": str(tmp_path / "data"),
        "TOCSIN_CONFIG": str(config_path),
        "TOCSIN_SECRET_KEY": "e2e-two-way-secret-0123456789",
        "TOCSIN_WEB_PORT": str(web_port),
        "TOCSIN_BASE_URL": base,
        "TOCSIN_BEAT_SECONDS": "1",
        "SLACK_TOKEN": slack.token,
        "SLACK_SIGNING_SECRET": SIGNING,
        "TWILIO_ACCOUNT_SID": twilio.sid,
        "TWILIO_AUTH_TOKEN": twilio.token,
        "PAGERDUTY_ROUTING_KEY": pd.routing_key,
    }
    log = (tmp_path / "run.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tocsin.cli", "run"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    config = load_config(config_path)
    web = httpx.Client(base_url=base, timeout=10)

    def state(inc_id: int) -> tuple[str, str | None]:
        with sessions() as s:
            inc = s.get(Incident, inc_id)
            assert inc is not None
            return inc.state, inc.acknowledged_by

    try:

        def up() -> bool:
            try:
                return web.get("/healthz").status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, 90, "the web app", proc)
        first = open_incident(sessions, config, "acme")
        opened = datetime.now(UTC)
        wait_for(lambda: slack.posted(), 60, "the Slack page", proc)
        wait_for(lambda: twilio.sent, 30, "the SMS page", proc)
        wait_for(lambda: pd.events, 30, "the PagerDuty trigger", proc)
        (posted,) = slack.posted()
        assert "tocsin_ack" in str(posted["blocks"])
        assert twilio.sent[0]["To"] == "+15550100001"
        trigger = pd.events[0]
        assert trigger["event_action"] == "trigger"

        # Forged: another secret; a timestamp six minutes old. Refused, nothing changes.
        now = int(datetime.now(UTC).timestamp())
        for secret, stamp in (("forged-secret", now), (SIGNING, now - 360)):
            body, headers = press(secret, "U0ALICE", first, timestamp=stamp)
            r = web.post("/integrations/slack/interactions", content=body, headers=headers)
            assert r.status_code == 401
            assert state(first) == ("triggered", None)
        body, headers = press(SIGNING, "U0ALICE", first)
        r = web.post("/integrations/slack/interactions", content=body, headers=headers)
        assert r.status_code == 200
        assert state(first) == ("acknowledged", "alice")

        wait_for(lambda: slack.updates, 30, "chat.update of the Slack page", proc)
        assert "Acknowledged by Alice" in str(slack.posted()[0]["blocks"])

        def pd_ack() -> list[dict[str, Any]]:
            return [e for e in pd.events if e["event_action"] == "acknowledge"]

        (ack_event,) = wait_for(pd_ack, 30, "PagerDuty's acknowledge", proc)
        assert ack_event["dedup_key"] == trigger["dedup_key"]
        assert pd.incidents[trigger["dedup_key"]] == "acknowledged"

        # An SMS reply acknowledges a second incident.
        second = open_incident(sessions, config, "beta")
        wait_for(lambda: len(twilio.sent) >= 2, 60, "the second SMS page", proc)
        assert f"Reply ACK {second}" in twilio.sent[1]["Body"]
        body, headers = signed_reply(
            f"{base}/integrations/twilio/sms", twilio.token, "+15550100001", "ACK"
        )
        r = web.post("/integrations/twilio/sms", content=body, headers=headers)
        assert r.status_code == 200 and f"incident {second} acknowledged" in r.text
        assert state(second) == ("acknowledged", "alice")
        with sessions() as s:
            vias = sorted(s.scalars(select(Acknowledgement.via)).all())
        assert vias == ["slack", "sms"]

        # Escalation stopped: past leadership's step time, Carol was never paged.
        left = (
            opened + LEADERSHIP_AFTER + timedelta(seconds=5) - datetime.now(UTC)
        ).total_seconds()
        if left > 0:
            time.sleep(left)
        with sessions() as s:
            carol = s.scalars(select(Notification).where(Notification.recipient == "carol")).all()
        assert carol == []
        assert all(m["To"] != "+15550100002" for m in twilio.sent)
    finally:
        web.close()
        engine.dispose()
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
        finally:
            log.close()
