"""The packet as an e-mail, sent through the SMTP channel to a real SMTP server (aiosmtpd) and
parsed back with the modern policy: the chart is an inline image/png referenced by cid:, and the
text part holds the five answers. The page leadership receives when an incident escalates to them
is that e-mail (through the escalation tick and the outbox); other channels get the answers."""

from __future__ import annotations

import email
from collections.abc import Iterator
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from alerts.channels import build_channels
from alerts.channels.base import OutgoingMessage
from alerts.channels.smtp import SMTPChannel
from alerts.outbox import dispatch_due
from alerts.packets import build_packet, packet_email, packet_summary, refresh_packets
from alerts.service import escalation_tick, observe
from tests.alerts.reporting import HOSTILE, T0, build_incident, burst, calm, config
from tests.alerts.test_channels import Mailbox, smtp_server
from worker.config import Config
from worker.ingest import store_mentions
from worker.model import Evidence, Signal
from worker.pipeline import store_signals
from worker.storage.db import make_engine, make_sessionmaker, upgrade
from worker.storage.models import IncidentEvent, Notification, PacketVersion


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


LEADERSHIP_POLICY = """
[policies.default]
steps = [
  { after_minutes = 0,  notify = ["oncall"],     channels = ["console"],          role = "on-call" },
  { after_minutes = 15, notify = ["leadership"], channels = ["email", "console"], role = "leadership" },
]

[channels.email]
type = "smtp"
host = "127.0.0.1"
port = PORT
from = "tocsin@example.com"
"""


def escalate_to_leadership(
    sessions: sessionmaker[Session], cfg: Config, *, refresh: bool = True
) -> int:
    """Calm days, a burst, an incident opened at T0; leadership's step fires at T0+16 min."""
    with sessions.begin() as s:
        store_mentions(s, calm(T0 - timedelta(days=2), 46), T0, topic="lumio")
        store_mentions(s, burst(), T0 + timedelta(minutes=10), topic="lumio")
    ev = Evidence(T0 - timedelta(minutes=30), T0, 40, 5, 1, 9, 1e-9)
    first = Signal("lumio", "negative_surge", T0, 0.99, 2, "Negative mentions of Lumio rose.", ev)
    with sessions.begin() as s:
        (inc_id,) = observe(s, cfg, store_signals(s, [first]), T0)
    escalation_tick(sessions, cfg, T0, base_url="https://t.example", secret_key="k" * 20)
    if refresh:
        with sessions.begin() as s:  # the job keeps version 1 as the incident opens
            refresh_packets(s, cfg, T0)
    escalation_tick(
        sessions, cfg, T0 + timedelta(minutes=16), base_url="https://t.example", secret_key="k" * 20
    )
    return int(inc_id)


def test_leadership_briefing_is_the_packet_email_and_other_channels_get_the_answers_and_link(
    tmp_path: Path, mailbox: tuple[Mailbox, int]
) -> None:
    """The page leadership receives when the incident escalates to them: by e-mail the packet
    itself (five answers in the text part, the chart inline by cid:, their own acknowledge link),
    kept as a packet version; on the console channel the five answers and the signed link."""
    box, port = mailbox
    url = f"sqlite:///{tmp_path / 'tocsin.db'}"
    upgrade(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    cfg = config(LEADERSHIP_POLICY.replace("PORT", str(port)))
    inc = escalate_to_leadership(sessions, cfg)
    now = T0 + timedelta(minutes=16)
    delivered = dispatch_due(sessions, build_channels(cfg, tmp_path / "outbox"), now, config=cfg)
    assert delivered == 5  # alice (on-call, console); carol and bob by e-mail and console
    with sessions() as s:
        first, version = s.scalars(
            select(PacketVersion)
            .where(PacketVersion.incident_id == inc)
            .order_by(PacketVersion.version)
        )
        assert first.generated_at == T0
        assert version.generated_at == now  # what leadership was told is a kept version
        told = dict(version.content)
        rows = {
            (n.recipient, n.channel): n
            for n in s.scalars(select(Notification).where(Notification.incident_id == inc))
        }
        assert all(n.status == "sent" for n in rows.values())
    engine.dispose()
    assert "text" not in rows[("alice", "console")].body  # the on-call page is not a briefing

    assert sorted(m["To"] for m in box.messages) == ["bob@example.com", "carol@example.com"]
    for msg in box.messages:
        person = "carol" if msg["To"] == "carol@example.com" else "bob"
        raw = email.message_from_bytes(msg.as_bytes(), _class=EmailMessage, policy=policy.default)
        text = raw.get_body(preferencelist=("plain",))
        html = raw.get_body(preferencelist=("html",))
        assert text is not None and html is not None
        body = text.get_content()
        for label, key in (("What", "what"), ("Since", "since"), ("How big", "size")):
            assert f"{label}: {told['answers'][key]}" in body
        assert f"Where: {told['answers']['where']}" in body
        assert f"Who: {told['answers']['who']}" in body
        assert "Nobody has acknowledged it yet" in told["answers"]["who"]
        # Their own acknowledge link (the token names the person), the packet and its version.
        ack_url = rows[(person, "email")].body["ack_url"]
        assert ack_url in body and ack_url in html.get_content()
        other = "bob" if person == "carol" else "carol"
        assert rows[(other, "email")].body["ack_url"] not in body
        assert f"/incidents/{inc}/packet?t=" in body
        assert f"/incidents/{inc}/packet/v/{version.version}?t=" in body
        page = html.get_content()
        assert 'src="cid:packet-chart"' in page and "<svg" not in page and "<script" not in page
        assert "<style" not in page and 'style="' in page  # inline CSS only (Outlook, Gmail)
        (image,) = [p for p in raw.walk() if p.get_content_type() == "image/png"]
        assert image["Content-ID"] == "<packet-chart>"
        assert image.get_content()[:8] == b"\x89PNG\r\n\x1a\n"

    console = rows[("carol", "console")].body
    assert "html" not in console and "images" not in console  # no inline image off e-mail
    assert console["explanations"][0] == packet_summary(told)
    assert console["answers"] == told["answers"]
    assert console["packet_url"].startswith(f"https://t.example/incidents/{inc}/packet?t=")
    (written,) = (tmp_path / "outbox").glob("*-carol.txt")
    shown = written.read_text(encoding="utf-8")
    assert told["answers"]["what"] in shown and told["answers"]["who"] in shown
    assert console["packet_url"] in shown


def briefings(sessions: sessionmaker[Session], inc: int) -> tuple[list[Notification], list[str]]:
    """The incident's leadership pages, and the kinds of every timeline row."""
    with sessions() as s:
        pages = s.scalars(
            select(Notification).where(
                Notification.incident_id == inc, Notification.role == "leadership"
            )
        ).all()
        return list(pages), [e.kind for e in s.scalars(select(IncidentEvent)).all()]


def test_a_briefing_goes_out_without_its_packet_when_the_packet_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'tocsin.db'}"
    upgrade(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    cfg = config(LEADERSHIP_POLICY.replace("PORT", "2525"))

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("chart library missing")

    monkeypatch.setattr("alerts.packets.versions.build_packet", broken)
    inc = escalate_to_leadership(sessions, cfg, refresh=False)
    pages, kinds = briefings(sessions, inc)
    with sessions() as s:
        versions = s.scalars(select(PacketVersion)).all()
    engine.dispose()
    assert len(pages) == 4  # carol and bob, e-mail and console: nobody left out
    assert all("text" not in p.body and p.body["packet_url"] for p in pages)
    assert "packet_failed" in kinds and len(versions) == 0


def test_a_briefing_email_goes_out_with_the_answers_when_its_chart_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'tocsin.db'}"
    upgrade(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    cfg = config(LEADERSHIP_POLICY.replace("PORT", "2525"))
    calls = []

    def broken(*args: object, **kwargs: object) -> None:
        calls.append(1)
        raise RuntimeError("no display for the chart")

    monkeypatch.setattr("alerts.packets.render.incident_chart", broken)
    inc = escalate_to_leadership(sessions, cfg, refresh=False)
    pages, kinds = briefings(sessions, inc)
    engine.dispose()
    assert len(pages) == 4 and len(calls) == 1  # tried once, not once per e-mail
    assert all("html" not in p.body and p.body["answers"]["what"] for p in pages)
    assert kinds.count("packet_failed") == 1
