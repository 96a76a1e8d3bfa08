"""The web app through its HTTP interface (FastAPI TestClient) over a real SQLite database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from alerts.tokens import (
    TokenError,
    make_ack_token,
    make_view_token,
    read_ack_token,
    read_view_token,
)
from alerts.web import create_app
from tests.alerts.scenario import SECRET, T0, Clock, ack_path, make_runtime, open_incident
from worker.runtime import Runtime
from worker.storage.models import Incident


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    rt = make_runtime(tmp_path)
    yield rt
    rt.dispose()


@pytest.fixture
def client(runtime: Runtime, clock: Clock) -> TestClient:
    return TestClient(create_app(lambda: runtime, clock=clock))


def test_tokens_round_trip_and_refuse_tampering_and_expiry() -> None:
    token = make_ack_token(SECRET, 7, "alice", T0 + timedelta(hours=1))
    claim = read_ack_token(SECRET, token, T0)
    assert (claim.incident_id, claim.recipient) == (7, "alice")
    with pytest.raises(TokenError, match="expired"):
        read_ack_token(SECRET, token, T0 + timedelta(hours=2))
    with pytest.raises(TokenError, match="invalid"):
        read_ack_token("another-secret", token, T0)
    with pytest.raises(TokenError, match="invalid"):
        read_ack_token(SECRET, token[:-2] + ("A" if token[-1] != "A" else "B") + token[-1], T0)
    view = make_view_token(SECRET, 7, T0 + timedelta(days=1))
    assert read_view_token(SECRET, view, T0) == 7
    with pytest.raises(TokenError):  # a view link is not an ack link
        read_ack_token(SECRET, view, T0)


def test_get_only_confirms_post_acknowledges_once(
    runtime: Runtime, client: TestClient, clock: Clock
) -> None:
    inc_id = open_incident(runtime)
    path = ack_path(runtime)
    page = client.get(path)
    assert page.status_code == 200
    assert 'method="post"' in page.text.lower()
    with runtime.sessions() as s:
        inc = s.get(Incident, inc_id)
        assert inc is not None and inc.state == "triggered"  # a mail scanner's GET changes nothing
    clock.now = T0 + timedelta(minutes=2)
    done = client.post(path)
    assert done.status_code == 200 and "Acknowledged" in done.text
    again = client.post(path)
    assert again.status_code == 409
    with runtime.sessions() as s:
        inc = s.get(Incident, inc_id)
        assert inc is not None and inc.state == "acknowledged" and inc.acknowledged_by == "alice"


def test_expired_and_forged_links_are_refused(
    runtime: Runtime, client: TestClient, clock: Clock
) -> None:
    open_incident(runtime)
    path = ack_path(runtime)
    assert client.post(path[:-3] + "xyz").status_code == 400
    clock.now = T0 + timedelta(days=30)
    assert client.post(path).status_code == 410


def test_mention_text_is_escaped_in_every_page(runtime: Runtime, client: TestClient) -> None:
    inc_id = open_incident(runtime)
    page = client.get(ack_path(runtime))
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    view = make_view_token(SECRET, inc_id, T0 + timedelta(days=1))
    packet = client.get(f"/incidents/{inc_id}/packet", params={"t": view})
    assert packet.status_code == 200
    assert "<script>" not in packet.text and "<img src=x" not in packet.text
    assert "&lt;script&gt;" in packet.text
    assert "Acme &lt;Corp&gt;" in packet.text
    other = client.get(f"/incidents/{inc_id + 1}/packet", params={"t": view})
    assert other.status_code == 403


def test_api_lists_and_acknowledges_with_a_bearer_token(
    runtime: Runtime, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    inc_id = open_incident(runtime)
    monkeypatch.setenv("TOCSIN_API_TOKEN", "s3cret")
    assert client.get("/api/incidents").status_code == 401
    auth = {"Authorization": "Bearer s3cret"}
    listed = client.get("/api/incidents", headers=auth, params={"open_only": True}).json()
    assert [i["id"] for i in listed] == [inc_id]
    acked = client.post(f"/api/incidents/{inc_id}/ack", headers=auth, json={"by": "bob"})
    assert acked.json() == {"result": "acknowledged"}
    detail = client.get(f"/api/incidents/{inc_id}", headers=auth).json()
    assert detail["state"] == "acknowledged" and detail["acknowledged_by"] == "bob"
    assert [e["kind"] for e in detail["timeline"]][-1] == "acknowledged"
    assert client.post("/api/incidents/999/ack", headers=auth, json={}).status_code == 404


def test_healthz(client: TestClient) -> None:
    body = client.get("/healthz").json()
    assert body["ok"] is True and body["db"] is True and body["components"]["database"]["ok"]


def test_pages_show_times_in_the_configured_time_zone(tmp_path: Path, clock: Clock) -> None:
    # T0 is 14:00 UTC on 1 September: 16:00 in Paris (summer time).
    rt = make_runtime(tmp_path, timezone="Europe/Paris")
    try:
        client = TestClient(create_app(lambda: rt, clock=clock))
        inc_id = open_incident(rt)
        path = ack_path(rt)
        assert "Opened Tue 01 Sep 16:00 CEST." in client.get(path).text
        clock.now = T0 + timedelta(minutes=2)
        assert "Acknowledged by alice at 16:02 CEST" in client.post(path).text
        view = make_view_token(SECRET, inc_id, T0 + timedelta(days=1))
        packet = client.get(f"/incidents/{inc_id}/packet", params={"t": view}).text
        assert "Opened Tue 01 Sep 16:00 CEST" in packet
        assert "acknowledged by alice at 16:02 CEST" in packet
        assert " UTC" not in packet
    finally:
        rt.dispose()
