"""Nothing private reaches Sentry: a real sentry_sdk client in a child process reports an
ingest failure, a web request and a transaction to a local fake Sentry, and the recorded
envelopes hold ids and counts but no mention text, author, e-mail address or token."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.sentry_server import SentryServer
from worker.observability import scrub_event, scrub_text

SECRET_TEXT = "Acme burned my house, call me"
EMAIL = "victim.person@example.org"
TOKEN = "eyJpbmNpZGVudCI6N30.ZZZZZZZZZZZZZZZZZZZZZZZZZZ.abcdefghijklmnop"

CHILD = textwrap.dedent(
    """
    import logging, sys
    import sentry_sdk
    from fastapi import FastAPI, Request
    from fastapi.testclient import TestClient
    from sqlalchemy import create_engine, text
    from worker.observability import init_sentry

    dsn, db, secret, email, token = sys.argv[1:6]
    init_sentry(dsn, traces_sample_rate=1.0, _experiments={"transport_compression_level": 0})
    log = logging.getLogger("tocsin.worker")

    # 1. An ingest-like failure: the database quotes the row's values in the exception.
    engine = create_engine(db)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE m (id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE, author TEXT)"))
        conn.execute(text("INSERT INTO m (id, text, author) VALUES (1, :t, :a)"), {"t": secret, "a": email})
    log.warning("storing mention 42 by %s: %s", email, secret)
    try:
        with sentry_sdk.start_transaction(name="ingest.page", op="task"):
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO m (id, text, author) VALUES (2, :t, :a)"), {"t": secret, "a": email})
    except Exception as exc:
        sentry_sdk.capture_exception(exc)

    # 2. A web request whose body and URL carry the text and a token.
    app = FastAPI()

    @app.post("/ack/{tok}")
    async def ack(tok: str, request: Request) -> None:
        body = await request.json()
        raise ValueError(f"cannot acknowledge for {body['by']!r} with {tok}: 7 steps")

    client = TestClient(app, raise_server_exceptions=False)
    client.post(f"/ack/{token}?t={token}", json={"by": email, "text": secret},
                headers={"Authorization": "Bearer " + token, "Cookie": "s=" + token})
    sentry_sdk.flush(timeout=10)
    """
)


@pytest.fixture
def sentry() -> Iterator[SentryServer]:
    server = SentryServer().start()
    yield server
    server.stop()


def test_envelopes_carry_no_text_email_or_token(sentry: SentryServer, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, sentry.dsn(), db, SECRET_TEXT, EMAIL, TOKEN],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    events = sentry.of_type("event")
    transactions = sentry.of_type("transaction")
    assert len(events) >= 2 and transactions, sentry.items
    everything = b"\n".join(sentry.raw).decode("utf-8", "replace")
    for secret in (SECRET_TEXT, "burned", EMAIL, "victim", TOKEN[:20], "ZZZZZZZZ"):
        assert secret not in everything, secret
    # What is kept still says what happened: exception types, the failing constraint, counts.
    values = [v for e in events for v in e["exception"]["values"]]
    types = {v["type"] for v in values}
    assert "IntegrityError" in types and "ValueError" in types
    integrity = next(v for v in values if v["type"] == "IntegrityError")
    assert "UNIQUE constraint failed: m.text" in integrity["value"]
    value_error = next(v for v in values if v["type"] == "ValueError")
    assert "7 steps" in value_error["value"]
    crumbs = [c for e in events for c in (e.get("breadcrumbs") or {}).get("values", [])]
    assert any("storing mention 42" in (c.get("message") or "") for c in crumbs)
    request = next(e["request"] for e in events if e.get("request"))
    assert "data" not in request and "/ack/[token]" in request["url"]
    assert "authorization" not in {k.lower() for k in request.get("headers", {})}


def test_scrub_text_keeps_numbers_and_drops_values() -> None:
    message = (
        "(psycopg.errors.StringDataRightTruncation) value too long for type character varying(300)\n"
        "[SQL: INSERT INTO mentions (text, author) VALUES (%(text)s, %(author)s)]\n"
        f"[parameters: {{'text': '{SECRET_TEXT}', 'author': '{EMAIL}'}}]"
    )
    assert scrub_text(message) == (
        "(psycopg.errors.StringDataRightTruncation) value too long for type character varying(300)"
    )
    assert scrub_text(f"mention 7 by {EMAIL}: 'x' and \"{SECRET_TEXT}\" at https://t.co/x") == (
        "mention 7 by [email]: [redacted] and [redacted] at [url]"
    )
    event = scrub_event(
        {
            "logentry": {"message": "stored %s for %s", "params": [3, SECRET_TEXT]},
            "extra": {"count": 3, "text": f"'{SECRET_TEXT}'"},
            "user": {"email": EMAIL},
        }
    )
    assert json.dumps(event).count(SECRET_TEXT) == 0 and "user" not in event
    assert event["logentry"]["params"][0] == 3 and event["extra"]["count"] == 3
