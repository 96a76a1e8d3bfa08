"""`POST /api/mentions`: authenticated by a per-source token or an HMAC signature, idempotent."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from alerts.web import create_app
from worker.config import parse_config
from worker.runtime import Runtime
from worker.settings import Settings
from worker.storage.db import make_engine, make_sessionmaker, upgrade
from worker.storage.models import BucketRow, MentionRow

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
CONFIG = """
[sources.push.zapier]
token_env = "PUSH_TOKEN"
topic = "lumio"
[sources.push.vendor]
secret_env = "PUSH_SECRET"

[[topics]]
name = "lumio"
"""


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    monkeypatch.setenv("PUSH_TOKEN", "tok-0123456789")
    monkeypatch.setenv("PUSH_SECRET", "hmac-secret-abc")
    monkeypatch.setenv("TOCSIN_API_TOKEN", "the-api-token-is-not-needed")
    url = f"sqlite:///{tmp_path / 'tocsin.db'}"
    upgrade(url)
    engine = make_engine(url)
    settings = Settings(
        tmp_path,
        url,
        "memory://",
        "s" * 32,
        "http://testserver",
        tmp_path / "x.toml",
        None,
        "127.0.0.1",
        0,
    )
    yield Runtime(settings, parse_config(CONFIG), engine, make_sessionmaker(engine), tmp_path)
    engine.dispose()


@pytest.fixture
def client(runtime: Runtime) -> TestClient:
    return TestClient(create_app(lambda: runtime, clock=lambda: NOW))


def rows(rt: Runtime) -> list[MentionRow]:
    with rt.sessions() as s:
        return list(s.scalars(select(MentionRow).order_by(MentionRow.external_id)))


BATCH = [
    {
        "platform": "brandwatch",
        "id": "bw-1",
        "created_at": "2026-09-01T11:50:00+00:00",
        "text": "Lumio is down again",
    },
    {
        "platform": "brandwatch",
        "id": "bw-2",
        "created_at": "2026-09-01T11:51:00+00:00",
        "text": "lumio refund please",
        "author": "ann",
        "likes": 3,
    },
]


SECRET = "hmac-secret-abc"


def sign(body: bytes, secret: str | None = None) -> str:
    key = (secret or SECRET).encode()
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def test_token_push_stores_a_json_array_once(client: TestClient, runtime: Runtime) -> None:
    headers = {"Authorization": "Bearer tok-0123456789"}
    first = client.post("/api/mentions", json=BATCH, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json() == {
        "source": "zapier",
        "received": 2,
        "stored": 2,
        "duplicates": 0,
        "errors": [],
    }
    again = client.post("/api/mentions", json=BATCH, headers=headers)
    assert again.json()["stored"] == 0 and again.json()["duplicates"] == 2
    stored = rows(runtime)
    assert [(m.topic, m.platform, m.external_id) for m in stored] == [
        ("lumio", "brandwatch", "bw-1"),
        ("lumio", "brandwatch", "bw-2"),
    ]
    with runtime.sessions() as s:
        assert sum(b.count for b in s.scalars(select(BucketRow))) == 2  # counted once


def test_signed_jsonl_push_reports_bad_lines_and_keeps_good_ones(
    client: TestClient, runtime: Runtime
) -> None:
    lines = [
        json.dumps({**BATCH[0], "topic": "lumio"}),
        "{not json",
        json.dumps({"platform": "x", "id": "1"}),
    ]
    body = ("\n".join(lines) + "\n").encode()
    r = client.post(
        "/api/mentions",
        content=body,
        headers={"X-Tocsin-Signature": sign(body), "Content-Type": "application/x-ndjson"},
    )
    assert r.status_code == 200, r.text
    data = r.json()
    assert (data["source"], data["stored"]) == ("vendor", 1)
    assert [e["record"] for e in data["errors"]] == [2, 3]
    assert "created_at" in data["errors"][1]["reason"] or "missing" in data["errors"][1]["reason"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Bearer the-api-token-is-not-needed"},
        {"X-Tocsin-Signature": "sha256=" + "0" * 64},
        {"X-Tocsin-Signature": "signed-with-the-wrong-secret"},
    ],
)
def test_wrong_credentials_are_401_and_store_nothing(
    client: TestClient, runtime: Runtime, headers: dict[str, str]
) -> None:
    body = json.dumps(BATCH).encode()
    if headers.get("X-Tocsin-Signature") == "signed-with-the-wrong-secret":
        headers = {"X-Tocsin-Signature": sign(body, "another-secret")}
    r = client.post(
        "/api/mentions", content=body, headers={**headers, "Content-Type": "application/json"}
    )
    assert r.status_code == 401
    assert rows(runtime) == []


def test_a_signature_over_another_body_is_refused(client: TestClient, runtime: Runtime) -> None:
    body = json.dumps(BATCH).encode()
    tampered = json.dumps(BATCH[:1]).encode()
    r = client.post("/api/mentions", content=tampered, headers={"X-Tocsin-Signature": sign(body)})
    assert r.status_code == 401 and rows(runtime) == []
