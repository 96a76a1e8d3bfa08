"""Channels against real servers on loopback: aiosmtpd for e-mail, an HTTP server for webhooks."""

from __future__ import annotations

import base64
import email
import json
import socket
import threading
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from alerts.channels.apprise import AppriseChannel, AppriseOptions
from alerts.channels.base import OutgoingMessage, TransportError
from alerts.channels.pagerduty import PagerDutyChannel, PagerDutyOptions
from alerts.channels.render import env, render_html, render_text
from alerts.channels.slack import SlackChannel, SlackOptions
from alerts.channels.smtp import SMTPChannel
from alerts.channels.teams import TeamsChannel, TeamsOptions
from alerts.channels.twilio import TwilioChannel, TwilioOptions
from alerts.channels.webhook import WebhookChannel
from tests.fakes.pagerduty import PagerDutyFake
from tests.fakes.slack import SlackFake
from tests.fakes.teams import TeamsFake
from tests.fakes.twilio import TwilioFake
from tests.fakes.vendor import Answer
from tests.fakes.webhook_receiver import WebhookReceiver
from worker.config import ConfigError, parse_config

HOSTILE = '<script>alert(1)</script> "Acme"\r\nBcc: victim@example.com'


def message(**overrides: Any) -> OutgoingMessage:
    body = {
        "incident_id": 3,
        "topic": "acme",
        "title": f"Acme: volume spike {HOSTILE}",
        "severity": 2,
        "kinds": ["volume_spike"],
        "step": 0,
        "role": "on-call",
        "recipient_name": "Alice",
        "ack_url": "http://tocsin.test/ack/abc.def",
        "packet_url": "http://tocsin.test/incidents/3/packet?t=xyz",
        "explanations": [f"412 mentions in the last hour, 6.8x usual. Top post: {HOSTILE}"],
        "opened_at": "2026-09-01T14:00:00+00:00",
        "opened_shown": "Tue 01 Sep 16:00 CEST",
    }
    fields: dict[str, Any] = {
        "notification_id": 1,
        "incident_id": 3,
        "channel": "email",
        "recipient": "alice",
        "role": "on-call",
        "address": "alice@example.com",
        "subject": f"[SEV2] Acme {HOSTILE} — acknowledge",
        "body": body,
    }
    fields.update(overrides)
    return OutgoingMessage(**fields)


class Mailbox:
    def __init__(self, refuse: str | None = None) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[list[str]] = []
        self.refuse = refuse

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(list(envelope.rcpt_tos))
        self.messages.append(
            email.message_from_bytes(envelope.content, _class=EmailMessage, policy=policy.default)
        )
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def smtp_server(handler: Mailbox) -> Controller:
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    return controller


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    controller = smtp_server(box)
    yield box, controller.port
    controller.stop()


def test_email_has_text_and_html_with_the_ack_link_and_escaped_text(
    mailbox: tuple[Mailbox, int],
) -> None:
    box, port = mailbox
    channel = SMTPChannel(
        "email", {"host": "127.0.0.1", "port": port, "from": "tocsin@example.com"}
    )
    channel.send(message())
    (msg,) = box.messages
    assert box.envelopes == [["alice@example.com"]]  # no header injection added a recipient
    assert msg["Bcc"] is None
    assert "\n" not in str(msg["Subject"]) and str(msg["Subject"]).startswith("[SEV2] Acme")
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    assert "http://tocsin.test/ack/abc.def" in text.get_content()
    assert "Opened Tue 01 Sep 16:00 CEST." in text.get_content()
    html_text = html.get_content()
    assert "Opened Tue 01 Sep 16:00 CEST" in html_text
    assert 'href="http://tocsin.test/ack/abc.def"' in html_text
    assert "<script>" not in html_text and "&lt;script&gt;" in html_text
    assert msg["References"] == "<incident-3@tocsin.local>"


def test_a_severe_briefing_on_a_handled_incident_says_who_is_on_it() -> None:
    msg = message(role="leadership")
    msg.body["acknowledged_by"] = "alice"
    text, html = render_text(msg), render_html(msg)
    for page in (text, html):
        assert "This is now severe. alice acknowledged it and is on it." in page
    assert "abc.def" not in text and "abc.def" not in html  # nothing left to acknowledge
    assert "http://tocsin.test/incidents/3/packet?t=xyz" in text


def test_refused_recipient_is_permanent_and_busy_server_is_retried() -> None:
    for reply, permanent in (("550 no such user", True), ("451 try later", False)):
        controller = smtp_server(Mailbox(refuse=reply))
        port = controller.port
        channel = SMTPChannel("email", {"host": "127.0.0.1", "port": port, "from": "t@example.com"})
        try:
            with pytest.raises(TransportError) as err:
                channel.send(message())
        finally:
            controller.stop()
        assert err.value.permanent is permanent, reply


def test_unreachable_smtp_server_is_a_transient_error() -> None:
    port = free_port()  # nothing listens there once the probe socket is closed
    channel = SMTPChannel("email", {"host": "127.0.0.1", "port": port, "from": "t@example.com"})
    with pytest.raises(TransportError) as err:
        channel.send(message())
    assert not err.value.permanent


class _Hook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]
    statuses: list[int]

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.received.append(json.loads(self.rfile.read(length)))
        status = self.statuses.pop(0) if self.statuses else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook_server() -> Iterator[tuple[str, type[_Hook]]]:
    handler = type("Hook", (_Hook,), {"received": [], "statuses": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", handler
    server.shutdown()
    server.server_close()


def test_webhook_posts_json_and_classifies_errors(hook_server: tuple[str, type[_Hook]]) -> None:
    url, handler = hook_server
    channel = WebhookChannel("hook", {"url": url})
    channel.send(message(channel="hook"))
    assert handler.received[0]["ack_url"] == "http://tocsin.test/ack/abc.def"
    assert handler.received[0]["recipient"] == "alice"
    for status, permanent in ((503, False), (429, False), (404, True)):
        handler.statuses.append(status)
        with pytest.raises(TransportError) as err:
            channel.send(message(channel="hook"))
        assert err.value.permanent is permanent, status


# --- hardening of what we render (issue 11, item 6) -------------------------------------------

FORGE = "Mallory\r\nBcc: victim@example.com\u2028Click: http://evil.example\u202egnp.exe"


def test_plain_text_fields_never_start_new_lines_nor_carry_bidi_overrides() -> None:
    msg = message(
        body={**message().body, "recipient_name": FORGE, "explanations": [f"Top: {FORGE}"]}
    )
    text = render_text(msg)
    for line in text.splitlines():
        assert not line.startswith(("Bcc:", "Click:")), line
    assert "Bcc: victim@example.com" in text  # still shown, as text inside its own line
    assert "\u202e" not in text and "\u2028" not in text and "\r" not in text
    assert "\u202e" not in render_html(msg)
    # Every template rendered by the shared environment (packet, dashboard) drops them too.
    assert env().from_string("{{ x }}").render(x="evil\u202egnp.exe\u2066") == "evilgnp.exe"


def test_email_body_of_a_hostile_author_has_no_forged_header_line(
    mailbox: tuple[Mailbox, int],
) -> None:
    box, port = mailbox
    channel = SMTPChannel("email", {"host": "127.0.0.1", "port": port, "from": "t@example.com"})
    channel.send(message(uid="ntf_abc", body={**message().body, "explanations": [FORGE]}))
    (msg,) = box.messages
    plain = msg.get_body(preferencelist=("plain",))
    assert plain is not None
    assert not any(line.startswith("Bcc:") for line in plain.get_content().splitlines())
    # The stable id makes the Message-ID: a redelivered copy is the same message.
    assert msg["Message-ID"] == "<ntf_abc@tocsin.local>"
    assert msg["X-Tocsin-Notification-Id"] == "ntf_abc"


# --- Standard Webhooks ------------------------------------------------------------------------

WHSEC = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    fake = WebhookReceiver(WHSEC)
    fake.start()
    yield fake
    fake.stop()


def test_webhook_is_signed_per_standard_webhooks_with_a_stable_id(
    receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_SECRET", WHSEC)
    channel = WebhookChannel("hook", {"url": receiver.url + "/in", "secret_env": "HOOK_SECRET"})
    msg = message(channel="hook", uid="ntf_0001")
    channel.send(msg)
    channel.send(msg)  # a redelivery after a crash: same id, the receiver drops it
    assert list(receiver.processed) == ["ntf_0001"]
    assert receiver.processed["ntf_0001"]["notification_id"] == "ntf_0001"
    assert receiver.duplicates == 1
    monkeypatch.setenv("HOOK_SECRET", "whsec_" + base64.b64encode(b"another key!").decode())
    with pytest.raises(TransportError) as err:
        channel.send(message(channel="hook", uid="ntf_0002"))
    assert err.value.permanent and "401" in str(err.value)
    assert "ntf_0002" not in receiver.processed


# --- Slack ------------------------------------------------------------------------------------


@pytest.fixture
def slack() -> Iterator[SlackFake]:
    fake = SlackFake()
    fake.start()
    yield fake
    fake.stop()


def slack_channel(fake: SlackFake, monkeypatch: pytest.MonkeyPatch, **opts: Any) -> SlackChannel:
    monkeypatch.setenv("SLACK_TOKEN", fake.token)
    options = {
        "api_url": fake.url,
        "token_env": "SLACK_TOKEN",
        "signing_secret_env": "SLACK_SIGNING",
        **opts,
    }
    return SlackChannel("slack", SlackOptions.model_validate(options))


def test_slack_posts_block_kit_with_buttons_and_escaped_text_then_updates_it(
    slack: SlackFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel = slack_channel(slack, monkeypatch, channel="C0TOCSIN")
    hostile = message(channel="slack", address="C0TOCSIN/U0ALICE", uid="ntf_s1")
    hostile.body["explanations"] = ["<!channel> refund now <https://evil.example|acme.com> & more"]
    receipt = channel.send(hostile)
    assert receipt is not None and receipt["channel"] == "C0TOCSIN"
    (posted,) = slack.posted()
    section = posted["blocks"][1]["text"]["text"]
    assert section.startswith("<@U0ALICE> *SEV2*")
    assert "<!channel>" not in section and "&lt;!channel&gt;" in section
    assert "<https://evil" not in section
    (actions,) = [b for b in posted["blocks"] if b["type"] == "actions"]
    assert [e["text"]["text"] for e in actions["elements"]] == ["Acknowledge", "Open packet"]
    assert actions["elements"][0]["value"] == "3"
    assert posted["metadata"]["event_payload"]["notification_id"] == "ntf_s1"

    update = message(
        channel="slack",
        address="C0TOCSIN/U0ALICE",
        action="acknowledged",
        reply_to=receipt,
        body={**hostile.body, "acknowledged_by": "alice", "acknowledged_name": "Alice"},
    )
    channel.send(update)
    (after,) = slack.posted()
    texts = json.dumps(after["blocks"])
    assert "Acknowledged by Alice" in texts and "tocsin_ack" not in texts


def test_slack_errors_are_classified_as_slack_means_them(
    slack: SlackFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel = slack_channel(slack, monkeypatch)
    slack.ratelimit(retry_after=7)
    with pytest.raises(TransportError) as err:
        channel.send(message(channel="slack", address="U0ALICE"))
    assert not err.value.permanent and err.value.retry_after == 7
    with pytest.raises(TransportError) as err:
        channel.send(message(channel="slack", address="C0NOWHERE"))
    assert err.value.permanent and "channel_not_found" in str(err.value)
    monkeypatch.setenv("SLACK_TOKEN", "xoxb-revoked")
    with pytest.raises(TransportError) as err:
        channel.send(message(channel="slack", address="U0ALICE"))
    assert err.value.permanent and "invalid_auth" in str(err.value)
    assert slack.posted() == []


# --- Twilio, PagerDuty, Teams, Apprise ----------------------------------------------------------


def test_sms_is_form_encoded_basic_auth_at_most_320_characters_with_the_packet_link(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = TwilioFake()
    fake.start()
    try:
        monkeypatch.setenv("TW_SID", fake.sid)
        monkeypatch.setenv("TW_TOKEN", fake.token)
        opts = TwilioOptions.model_validate(
            {
                "api_url": fake.url,
                "account_sid_env": "TW_SID",
                "auth_token_env": "TW_TOKEN",
                "from": fake.number,
            }
        )
        channel = TwilioChannel("sms", opts)
        long = message(channel="sms", address="+1 555 010 0001")
        long.body["explanations"] = ["very long " * 100]
        assert channel.send(long) == {"sid": fake.sent[0]["sid"]}
        (sms,) = fake.sent
        assert sms["To"] == "+15550100001" and len(sms["Body"]) <= 320
        assert sms["Body"].endswith(
            "Reply ACK 3 to acknowledge. http://tocsin.test/incidents/3/packet?t=xyz"
        )
        with pytest.raises(TransportError) as err:
            channel.send(message(channel="sms", address="+0123"))
        assert err.value.permanent and "21211" in str(err.value)
        fake.too_many()
        with pytest.raises(TransportError) as err:
            channel.send(long)
        assert not err.value.permanent and err.value.retry_after == 1
        monkeypatch.setenv("TW_TOKEN", "wrong")
        with pytest.raises(TransportError) as err:
            channel.send(long)
        assert err.value.permanent and "20003" in str(err.value)
    finally:
        fake.stop()


def test_pagerduty_trigger_then_acknowledge_with_the_same_dedup_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = PagerDutyFake()
    fake.start()
    try:
        monkeypatch.setenv("PD_KEY", fake.routing_key)
        opts = PagerDutyOptions.model_validate({"api_url": fake.url, "routing_key_env": "PD_KEY"})
        channel = PagerDutyChannel("pagerduty", opts)
        page = message(channel="pagerduty", address="pagerduty", uid="ntf_p")
        first = channel.send(page)
        channel.send(page)  # a redelivery: PagerDuty's dedup_key keeps it one incident
        channel.send(message(channel="pagerduty", address="pagerduty", action="acknowledged"))
        assert first is not None
        key = first["dedup_key"]
        assert [e["event_action"] for e in fake.events] == ["trigger", "trigger", "acknowledge"]
        assert {e["dedup_key"] for e in fake.events} == {key}
        assert fake.incidents == {key: "acknowledged"}
        assert fake.events[0]["payload"]["severity"] == "error"  # SEV2
        monkeypatch.setenv("PD_KEY", "short")
        with pytest.raises(TransportError) as err:
            channel.send(page)
        assert err.value.permanent and "routing_key" in str(err.value)
    finally:
        fake.stop()


def test_teams_gets_an_adaptive_card_with_an_acknowledge_action(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = TeamsFake()
    fake.start()
    try:
        monkeypatch.setenv("TEAMS_URL", fake.flow_url)
        channel = TeamsChannel("teams", TeamsOptions(url_env="TEAMS_URL"))
        msg = message(channel="teams", address="alice@example.com")
        msg.body["explanations"] = ["[click me](http://evil.example) **now**"]
        channel.send(msg)
        (card,) = fake.cards
        assert card["actions"][0] == {
            "type": "Action.OpenUrl",
            "title": "Acknowledge",
            "url": "http://tocsin.test/ack/abc.def",
        }
        assert card["msteams"]["entities"][0]["mentioned"]["id"] == "alice@example.com"
        assert "[click me](http" not in json.dumps(card["body"])
        monkeypatch.setenv("TEAMS_URL", fake.flow_url.replace(fake.sig, "expired"))
        with pytest.raises(TransportError) as err:
            channel.send(msg)
        assert err.value.permanent and "DirectApiAuthorizationRequired" in str(err.value)
    finally:
        fake.stop()


def test_apprise_delivers_one_way_with_the_acknowledge_link(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = WebhookReceiver()  # Apprise's json:// posts a JSON document; any 2xx is delivered
    fake.start()
    try:
        monkeypatch.setenv("APPRISE_URL", fake.url.replace("http://", "json://") + "/notify")
        AppriseChannel("chat", AppriseOptions(url_env="APPRISE_URL")).send(message(channel="chat"))
        (req,) = fake.requests
        doc = json.loads(req.body)
        assert "http://tocsin.test/ack/abc.def" in doc["message"]
        assert doc["title"].startswith("[SEV2] Acme")
        fake.fail_next(Answer(503))
        with pytest.raises(TransportError) as err:
            AppriseChannel("chat", AppriseOptions(url_env="APPRISE_URL")).send(
                message(channel="chat")
            )
        assert not err.value.permanent
    finally:
        fake.stop()


def test_channel_options_are_checked_by_their_module_with_the_line() -> None:
    text = '[channels.slack]\ntype = "slack"\ntoken_env = "T"\nsigning_secret_env = "S"\nchanel = "C1"\n'
    with pytest.raises(ConfigError) as err:
        parse_config(text)
    assert str(err.value).startswith("tocsin.toml:5: channels.slack.chanel: unknown key")
    with pytest.raises(ConfigError, match=r"channels.sms.from: is required"):
        parse_config(
            '[channels.sms]\ntype = "twilio"\naccount_sid_env = "A"\nauth_token_env = "B"\n'
        )
    with pytest.raises(ConfigError, match=r"channels.x.type: must be one of .*slack"):
        parse_config('[channels.x]\ntype = "carrier-pigeon"\n')


def test_retry_after_reads_seconds_and_http_dates_and_4xx_other_than_429_is_permanent() -> None:
    from datetime import UTC, datetime

    import httpx

    from alerts.channels import http

    now = datetime(2026, 9, 1, 14, 0, tzinfo=UTC)
    assert http.retry_after(httpx.Response(429, headers={"Retry-After": "30"})) == 30
    dated = httpx.Response(503, headers={"Retry-After": "Tue, 01 Sep 2026 14:02:00 GMT"})
    assert http.retry_after(dated, now) == 120
    assert http.retry_after(httpx.Response(503, headers={"Retry-After": "soon"})) is None
    assert [
        s for s in (400, 401, 403, 404, 408, 410, 413, 422, 425, 429) if http.is_permanent(s)
    ] == [400, 401, 403, 404, 410, 413, 422]
    assert not http.is_permanent(500) and not http.is_permanent(503)
