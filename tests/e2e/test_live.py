"""End to end, with real processes: `tocsin run` (a real Celery worker with its beat, and the web
app) polls a real RSS server on loopback, an incident opens, the on-call manager is e-mailed through
a real SMTP server, and acknowledging through the signed link in that e-mail stops the escalation.

Run twice: on Redis + PostgreSQL (production shape) and on the embedded SQLite broker + SQLite.
"""

from __future__ import annotations

import email
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from tests.fakes.rss_server import RSSServer, rss_feed
from worker.ingest import bucket_start
from worker.storage.db import make_engine, make_sessionmaker
from worker.storage.models import Incident, Notification

pytestmark = pytest.mark.e2e

CALM = [
    "Acme support fixed my order quickly, thanks",
    "Trying the new Acme blender this weekend",
    "Acme shipping was on time as usual",
]
ANGRY = [
    "Acme charged me twice and support ignores me, this is a scam #AcmeOutage",
    "Acme app down again, worst service ever, I want a refund #AcmeOutage",
    "Boycott Acme, terrible and dishonest company #AcmeOutage",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mailbox:
    """aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            email.message_from_bytes(envelope.content, _class=EmailMessage, policy=policy.default)
        )
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


@pytest.fixture
def rss() -> Iterator[RSSServer]:
    server = RSSServer()
    server.start()
    yield server
    server.stop()


def history_jsonl(path: Path, now: datetime) -> None:
    """Three calm days: two or three mentions every ten minutes."""
    rows = []
    t = now - timedelta(days=3)
    i = 0
    while t < now - timedelta(minutes=30):
        for k in range(2 + (i % 2)):
            rows.append(
                {
                    "platform": "mastodon",
                    "id": f"h{i}-{k}",
                    "created_at": t.isoformat(),
                    "text": CALM[(i + k) % 3],
                    "author": f"fan{(i * 3 + k) % 400}",
                    "topic": "acme",
                    "author_followers": 150,
                }
            )
        i += 1
        t += timedelta(minutes=10)
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")


def crisis_feed(now: datetime, n: int = 160) -> bytes:
    """A news/social feed full of angry posts in the last completed five-minute bucket."""
    start = bucket_start(now, 300) - timedelta(minutes=5)
    items = [
        {
            "title": ANGRY[i % 3],
            "link": f"https://social.example/p/{i}",
            "guid": f"crisis-{i}",
            "pubDate": start + timedelta(seconds=1 + (i * 280) // n),
            "description": f"post {i} by angry{i}",
            "author": f"angry{i}@example.com (angry{i})",
        }
        for i in range(n)
    ]
    return rss_feed(items, title="Acme mentions")


def write_config(path: Path, feed_url: str, smtp_port: int) -> None:
    path.write_text(
        f"""
[tocsin]
bucket_minutes = 5

[[topics]]
name = "acme"
display_name = "Acme"
poll_seconds = 30
[topics.queries]
rss = ["{feed_url}"]

[people.alice]
name = "Alice"
email = "alice@example.com"
[people.carol]
name = "Carol"
email = "carol@example.com"

[groups]
oncall = ["alice"]
leadership = ["carol"]

[policies.default]
steps = [
  {{ after_minutes = 0, notify = ["oncall"], channels = ["email", "console"] }},
  {{ after_minutes = 0.5, notify = ["leadership"], channels = ["email"] }},
]
severe_at = 0

[channels.email]
type = "smtp"
host = "127.0.0.1"
port = {smtp_port}
from = "tocsin@example.com"
""",
        encoding="utf-8",
    )


def wait_for(
    predicate: Callable[[], Any],
    timeout: float,
    what: str,
    proc: subprocess.Popen[str] | None = None,
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(
                f"tocsin run exited early ({proc.returncode}) while waiting for {what}"
            )
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@pytest.fixture(params=["redis+postgresql", "embedded-sqlite"])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """Database and broker URLs for one of the two deployment shapes."""
    if request.param == "redis+postgresql":
        pg = request.getfixturevalue("pg_database_factory")()
        return {
            "TOCSIN_DATABASE_URL": pg,
            "TOCSIN_BROKER_URL": request.getfixturevalue("redis_url"),
        }
    return {
        "TOCSIN_DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'tocsin.db'}",
        "TOCSIN_BROKER_URL": f"sqla+sqlite:///{tmp_path / 'data' / 'broker.db'}",
    }


def test_poll_to_incident_to_acknowledged_link(
    stack: dict[str, str], tmp_path: Path, rss: RSSServer, smtp: tuple[Mailbox, int]
) -> None:
    """A spike polled from RSS opens one incident; the e-mailed link acknowledges it and
    leadership is never paged; Ctrl-C stops every process cleanly."""
    mailbox, smtp_port = smtp
    now = datetime.now(UTC)
    rss.set_feed("/acme.xml", crisis_feed(now))
    config = tmp_path / "tocsin.toml"
    write_config(config, rss.url("/acme.xml"), smtp_port)
    web_port = free_port()
    env = {
        **os.environ,
        **stack,
        "TOCSIN_DATA_DIR": str(tmp_path / "data"),
        "TOCSIN_CONFIG": str(config),
        "TOCSIN_SECRET_KEY": "e2e-secret-key-0123456789",
        "TOCSIN_WEB_PORT": str(web_port),
        "TOCSIN_BEAT_SECONDS": "1",
    }
    db_url = stack["TOCSIN_DATABASE_URL"]

    # Calm history through the import path, so the detector has a baseline.
    history = tmp_path / "history.jsonl"
    history_jsonl(history, now)
    imported = subprocess.run(
        [sys.executable, "-m", "tocsin.cli", "import", str(history)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert imported.returncode == 0, imported.stderr
    assert "imported" in imported.stdout

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
    try:

        def incident() -> Incident | None:
            with sessions() as s:
                return s.scalars(select(Incident)).first()

        opened = wait_for(incident, 150, "an incident to open", proc)
        assert opened.topic == "acme"

        def oncall_mail() -> EmailMessage | None:
            return next((m for m in mailbox.messages if "alice@example.com" in str(m["To"])), None)

        msg = wait_for(oncall_mail, 60, "the on-call e-mail", proc)
        body = msg.get_body(preferencelist=("plain",))
        assert body is not None
        text = body.get_content()
        link = re.search(r"http://\S+/ack/\S+", text)
        assert link, text
        ack_url = link.group(0).rstrip(".>)")

        # The link opens a confirmation page (GET changes nothing), the button POSTs.
        with httpx.Client(timeout=10) as client:
            wait_for(lambda: _up(client, web_port), 30, "the web app", proc)
            page = client.get(ack_url)
            assert page.status_code == 200
            assert incident().state == "triggered"  # type: ignore[union-attr]
            done = client.post(ack_url)
            assert done.status_code == 200, done.text
            assert "acknowledged" in done.text.lower()
            again = client.post(ack_url)
            assert again.status_code == 409  # single-use

        acked = incident()
        assert acked is not None and acked.state == "acknowledged"
        assert acked.acknowledged_by == "alice"
        # Past the leadership step's due time (30 s after opening), nothing went to leadership.
        time.sleep(max(0.0, 35 - (datetime.now(UTC) - acked.opened_at).total_seconds()))
        time.sleep(3)
        with sessions() as s:
            leadership = s.scalars(
                select(Notification).where(Notification.recipient == "carol")
            ).all()
            incidents = s.scalars(select(Incident)).all()
        assert [n.status for n in leadership if n.status == "sent"] == []
        assert not any("carol@example.com" in str(m["To"]) for m in mailbox.messages)
        assert len(incidents) == 1  # polled every 30 s, still one incident
    finally:
        engine.dispose()
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
        finally:
            log.close()
    output = (tmp_path / "run.log").read_text()
    assert code == 0, output[-3000:]
    assert "tocsin stopped." in output
    # No process of the group is left behind (zombies awaiting a reaper do not count).
    deadline = time.monotonic() + 10
    while (left := _group_members(proc.pid)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left == [], f"still running after tocsin stopped: {left}"


def _group_members(pgid: int) -> list[str]:
    """Live (non-zombie) processes in a process group, read from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            found.append(f"{stat.parent.name}: {cmdline.strip()}")
    return found


def _up(client: httpx.Client, port: int) -> bool:
    try:
        return client.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
    except httpx.HTTPError:
        return False
