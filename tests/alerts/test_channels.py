"""Channels against real servers on loopback: aiosmtpd for e-mail, an HTTP server for webhooks."""

from __future__ import annotations

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

from alerts.channels.base import OutgoingMessage, TransportError
from alerts.channels.render import render_html, render_text
from alerts.channels.smtp import SMTPChannel
from alerts.channels.webhook import WebhookChannel

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
