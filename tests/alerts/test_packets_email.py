"""The packet as an e-mail, sent through the SMTP channel to a real SMTP server (aiosmtpd) and
parsed back with the modern policy: the chart is an inline image/png referenced by cid:, and the
text part holds the five answers."""

from __future__ import annotations

import email
from collections.abc import Iterator
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from alerts.channels.base import OutgoingMessage
from alerts.channels.smtp import SMTPChannel
from alerts.packets import build_packet, packet_email
from tests.alerts.reporting import HOSTILE, T0, build_incident, config
from tests.alerts.test_channels import Mailbox, smtp_server
from worker.storage.db import make_engine, make_sessionmaker, upgrade


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    controller = smtp_server(box)
    yield box, controller.port
    controller.stop()


def test_packet_email_has_an_inline_png_chart_and_the_five_answers_in_text(
    tmp_path: Path, mailbox: tuple[Mailbox, int]
) -> None:
    url = f"sqlite:///{tmp_path / 'tocsin.db'}"
    upgrade(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    cfg = config()
    inc = build_incident(sessions, cfg)
    with sessions() as s:
        packet = build_packet(s, inc, T0 + timedelta(minutes=60), cfg.timezone, cfg)
    engine.dispose()
    parts = packet_email(packet, "https://tocsin.example/incidents/1/packet?t=abc")
    box, port = mailbox
    SMTPChannel("email", {"host": "127.0.0.1", "port": port, "from": "tocsin@example.com"}).send(
        OutgoingMessage(
            1, inc, "email", "carol", "leadership", "carol@example.com", parts.subject,
            {"incident_id": inc, **parts.to_body()},
        )
    )  # fmt: skip
    (raw,) = box.messages
    msg = email.message_from_bytes(raw.as_bytes(), _class=EmailMessage, policy=policy.default)
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    body = text.get_content()
    for label, key in (
        ("What", "what"),
        ("Since", "since"),
        ("How big", "size"),
        ("Where", "where"),
        ("Who", "who"),
    ):
        assert f"{label}: {packet['answers'][key]}" in body
    assert body.index("What:") < body.index("Top posts:")  # the answers come first
    page = html.get_content()
    assert 'src="cid:packet-chart"' in page
    assert "<svg" not in page and "<script" not in page and "&lt;script&gt;" in page
    images = [p for p in msg.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 1
    (image,) = images
    assert image["Content-ID"] == "<packet-chart>"
    assert image.get_content_disposition() == "inline"
    assert image.get_content()[:8] == b"\x89PNG\r\n\x1a\n"
    # The image is related to the HTML: both sit in one multipart/related part.
    related = [p for p in msg.walk() if p.get_content_type() == "multipart/related"]
    assert len(related) == 1 and any(
        p.get_content_type() == "text/html" for p in related[0].iter_parts()
    )
    assert HOSTILE not in page  # shown escaped, never as markup
