"""The incident actions and on-call through the JSON API (FastAPI TestClient, real SQLite)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from alerts.web import create_app
from tests.alerts.scenario import CONFIG, T0, Clock, make_runtime
from tests.alerts.test_incident_cli import SCHEDULE
from worker.config import parse_config
from worker.runtime import Runtime


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    rt = make_runtime(tmp_path)
    rt = dataclasses.replace(rt, config=parse_config(CONFIG + SCHEDULE))
    yield rt
    rt.dispose()


@pytest.fixture
def client(runtime: Runtime, clock: Clock) -> TestClient:
    # The API answers loopback clients when no token is set (alerts/websecurity.py).
    return TestClient(create_app(lambda: runtime, clock=clock), client=("127.0.0.1", 50000))


def test_open_snooze_note_reassign_resolve_through_the_api(
    client: TestClient, clock: Clock
) -> None:
    opened = client.post(
        "/api/incidents", json={"topic": "acme", "severity": 2, "title": "Recall", "by": "erin"}
    )
    assert opened.status_code == 201
    inc = opened.json()["id"]
    assert client.post(
        "/api/incidents", json={"topic": "acme", "severity": 2, "title": "Recall"}
    ).json() == {"id": inc, "opened": False}
    clock.now = T0 + timedelta(minutes=1)
    snoozed = client.post(f"/api/incidents/{inc}/snooze", json={"minutes": 15, "by": "alice"})
    assert (snoozed.status_code, snoozed.json()) == (200, {"result": "done"})
    note = {"text": "Statement out at 15:00", "by": "alice"}
    key = {"Idempotency-Key": "n-1"}
    assert client.post(f"/api/incidents/{inc}/notes", json=note, headers=key).json() == {
        "result": "done"
    }
    assert client.post(f"/api/incidents/{inc}/notes", json=note, headers=key).json() == {
        "result": "unchanged"
    }
    bad = client.post(f"/api/incidents/{inc}/reassign", json={"to": "zed"})
    assert (bad.status_code, bad.json()) == (422, {"result": "unknown_person"})
    assert client.post(f"/api/incidents/{inc}/reassign", json={"to": "bob"}).status_code == 200
    assert client.post(f"/api/incidents/{inc}/resolve", json={"by": "bob"}).json() == {
        "result": "done"
    }
    again = client.post(f"/api/incidents/{inc}/resolve", json={})
    assert (again.status_code, again.json()) == (409, {"result": "resolved"})
    assert client.post("/api/incidents/999/snooze", json={"minutes": 5}).status_code == 404
    detail = client.get(f"/api/incidents/{inc}").json()
    assert [(e["kind"], e["actor"], e["detail"].get("via")) for e in detail["timeline"]] == [
        ("opened", "erin", "api"),
        ("updated", None, None),
        ("opened_by_hand_again", "api", "api"),
        ("snoozed", "alice", "api"),
        ("note", "alice", "api"),
        ("reassigned", "api", "api"),
        ("resolved", "bob", "api"),
    ]
    assert detail["notes"] == [
        {"at": clock.now.isoformat(), "by": "alice", "text": "Statement out at 15:00"}
    ]


def test_bad_bodies_are_422_and_change_nothing(client: TestClient) -> None:
    assert client.post("/api/incidents", json={"topic": "acme", "severity": 7}).status_code == 422
    assert client.get("/api/incidents").json() == []
    assert client.post("/api/incidents/1/snooze", json={"minutes": -3}).status_code == 422


def test_oncall_through_the_api(client: TestClient) -> None:
    assert client.get("/api/oncall", params={"at": "2026-03-07T18:00Z"}).json() == {
        "primary": "bob"
    }
    assert client.get("/api/oncall", params={"at": "2026-03-07T18:00"}).status_code == 422


def test_the_actions_need_the_api_token(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOCSIN_API_TOKEN", "t0ken")
    body = {"topic": "acme", "severity": 2, "title": "x"}
    assert client.post("/api/incidents", json=body).status_code == 401
    assert client.get("/api/oncall").status_code == 401
    ok = client.post("/api/incidents", json=body, headers={"Authorization": "Bearer t0ken"})
    assert ok.status_code == 201


def test_the_dashboard_shows_who_is_on_call(client: TestClient, clock: Clock) -> None:
    clock.now = T0.replace(year=2026, month=3, day=7, hour=18)  # bob's override in Paris
    page = client.get("/")
    assert page.status_code == 200
    assert "on call: Bob (primary)" in page.text
    oncall = client.get("/oncall")
    assert '<span class="num">Bob (bob)</span>' in oncall.text
    assert "until Sun 08 Mar 20:00 CET" in oncall.text
