"""`/api/v1` through FastAPI's TestClient on real SQLite and PostgreSQL: each endpoint, the
roles, problem+json errors, and hostile text coming back as the same JSON text."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from alerts.reports.send import send_weekly
from tests.alerts.scenario import T0, Clock, open_incident
from tests.api.conftest import HOSTILE, mentions, store
from worker.runtime import Runtime
from worker.storage.models import Source

PROBLEM = "application/problem+json"


def problem(r: Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["status"] == status and body["type"] == "about:blank"
    assert body["title"] and body["detail"]
    return body  # type: ignore[no-any-return]


def test_topics_and_one_topic(rt: Runtime, viewer: TestClient) -> None:
    store(rt, mentions(6, text="Acme is awful, never again"))
    store(rt, mentions(2, prefix="g"), topic="globex")
    topics = viewer.get("/api/v1/topics").json()
    assert [t["name"] for t in topics] == ["acme", "globex"]  # configured, then stored-only
    acme = topics[0]
    assert acme["display_name"] == "Acme <Corp>"
    assert acme["last_hour"] == 6 and acme["open_incident"] is None
    assert acme["last_mention_at"] == (T0 - timedelta(minutes=1)).isoformat()
    one = viewer.get("/api/v1/topics/acme", params={"hours": 3}).json()
    assert one["hours"] == 3 and len(one["series"]) == 3
    assert sum(p["count"] for p in one["series"]) == 6
    assert one["platforms"] == {"rss": 6}
    problem(viewer.get("/api/v1/topics/nope"), 404)
    problem(viewer.get("/api/v1/topics/acme", params={"hours": 0}), 422)


def test_mentions_page_filters_and_cursor(rt: Runtime, viewer: TestClient) -> None:
    store(rt, mentions(5, text=HOSTILE))
    store(rt, mentions(3, prefix="b", text="Battery overheating", start=T0 - timedelta(hours=1)))
    first = viewer.get("/api/v1/mentions", params={"topic": "acme", "limit": 3}).json()
    assert len(first["items"]) == 3 and first["next_cursor"]
    # The hostile text is JSON text, unchanged (escaping is the renderer's job, not the API's).
    assert first["items"][0]["text"] == HOSTILE
    rest = viewer.get(
        "/api/v1/mentions", params={"topic": "acme", "limit": 50, "cursor": first["next_cursor"]}
    ).json()
    assert rest["next_cursor"] is None
    ids = [m["id"] for m in first["items"] + rest["items"]]
    assert len(ids) == len(set(ids)) == 8
    found = viewer.get("/api/v1/mentions", params={"q": "BATTERY"}).json()["items"]
    assert [m["platform_id"] for m in found] == ["b2", "b1", "b0"]
    since = (T0 - timedelta(minutes=30)).isoformat().replace("+00:00", "Z")
    assert len(viewer.get("/api/v1/mentions", params={"since": since}).json()["items"]) == 5
    until = (T0 - timedelta(minutes=30)).isoformat()
    assert len(viewer.get("/api/v1/mentions", params={"until": until}).json()["items"]) == 3
    assert (
        viewer.get("/api/v1/mentions", params={"author": "a1"}).json()["items"][0]["author"] == "a1"
    )
    for bad in (
        {"cursor": "garbage"},
        {"since": "yesterday"},
        {"since": "2026-11-06T14:00:00"},  # no offset
        {"label": "angry"},
        {"limit": 500},
    ):
        body = problem(viewer.get("/api/v1/mentions", params=bad), 422)
        assert next(iter(bad)) in body["detail"]


def test_incidents_detail_and_filters(rt: Runtime, viewer: TestClient) -> None:
    inc = open_incident(rt)
    listed = viewer.get("/api/v1/incidents").json()["items"]
    assert [i["id"] for i in listed] == [inc]
    assert viewer.get("/api/v1/incidents", params={"topic": "globex"}).json()["items"] == []
    assert viewer.get("/api/v1/incidents", params={"state": "resolved"}).json()["items"] == []
    assert len(viewer.get("/api/v1/incidents", params={"open": True}).json()["items"]) == 1
    assert viewer.get("/api/v1/incidents", params={"severity": 1}).json()["items"] == []
    assert len(viewer.get("/api/v1/incidents", params={"severity": 3}).json()["items"]) == 1
    d = viewer.get(f"/api/v1/incidents/{inc}").json()
    assert d["timeline"][0]["kind"] == "opened"
    assert d["signals"][0]["kind"] == "volume_spike"
    assert HOSTILE in d["signals"][0]["explanation"]  # text, unchanged
    assert d["notifications"] and {n["status"] for n in d["notifications"]} <= {
        "pending",
        "sent",
        "failed",
        "cancelled",
    }
    assert isinstance(d["packet_versions"], list)
    problem(viewer.get("/api/v1/incidents/999"), 404)
    problem(viewer.get("/api/v1/incidents/abc"), 422)


def test_actions_are_audited_as_the_principal_via_api(
    rt: Runtime, responder: TestClient, clock: Clock
) -> None:
    inc = open_incident(rt)
    base = f"/api/v1/incidents/{inc}"
    ack = responder.post(f"{base}/acknowledge", json={})
    assert ack.status_code == 200
    assert ack.json()["result"] == "acknowledged"
    assert ack.json()["incident"]["acknowledged_by"] == "rory"
    assert ack.json()["incident"]["acknowledged_via"] == "api"
    again = responder.post(f"{base}/acknowledge", json={}).json()
    assert again["result"] == "already_acknowledged"
    clock.now = T0 + timedelta(minutes=1)
    assert responder.post(f"{base}/snooze", json={"minutes": 30}).json()["result"] == "done"
    key = {"Idempotency-Key": "k1"}
    note = {"text": HOSTILE}
    assert responder.post(f"{base}/note", json=note, headers=key).json()["result"] == "done"
    assert responder.post(f"{base}/note", json=note, headers=key).json()["result"] == "unchanged"
    problem(responder.post(f"{base}/reassign", json={"to": "zed"}), 422)
    assert responder.post(f"{base}/reassign", json={"to": "bob"}).json()["result"] == "done"
    assert responder.post(f"{base}/resolve", json={}).json()["result"] == "done"
    problem(responder.post(f"{base}/resolve", json={}), 409)
    problem(responder.post("/api/v1/incidents/999/acknowledge", json={}), 404)
    problem(responder.post(f"{base}/snooze", json={"minutes": -1}), 422)
    problem(responder.post(f"{base}/note", json={}), 422)
    d = responder.get(base).json()
    mine = [(e["kind"], e["actor"], e["detail"].get("via")) for e in d["timeline"] if e["actor"]]
    assert mine[-5:] == [
        ("acknowledged", "rory", "api"),
        ("snoozed", "rory", "api"),
        ("note", "rory", "api"),
        ("reassigned", "rory", "api"),
        ("resolved", "rory", "api"),
    ]
    assert d["notes"][0]["text"] == HOSTILE
    # "from where": every action row records the client address the web app saw.
    assert {e["detail"].get("from") for e in d["timeline"] if e["actor"] == "rory"} == {"127.0.0.1"}


def test_open_by_hand(responder: TestClient) -> None:
    body = {"topic": "acme", "severity": 2, "title": "Recall rumour"}
    first = responder.post("/api/v1/incidents", json=body)
    assert first.status_code == 201 and first.json()["opened"] is True
    second = responder.post("/api/v1/incidents", json=body)
    assert second.status_code == 200 and second.json() == {
        "id": first.json()["id"],
        "opened": False,
    }
    d = responder.get(f"/api/v1/incidents/{first.json()['id']}").json()
    assert (d["timeline"][0]["actor"], d["timeline"][0]["detail"]["via"]) == ("rory", "api")
    problem(responder.post("/api/v1/incidents", json={**body, "severity": 9}), 422)
    problem(responder.post("/api/v1/incidents", json={**body, "title": "   "}), 422)


def test_roles(rt: Runtime, viewer: TestClient, anonymous: TestClient) -> None:
    inc = open_incident(rt)
    for path in ("/api/v1/topics", "/api/v1/mentions", f"/api/v1/incidents/{inc}"):
        problem(anonymous.get(path), 401)
        assert viewer.get(path).status_code == 200
    # A viewer reads everything and acts on nothing: every action is 403, and changes nothing.
    for action, body in (
        ("acknowledge", {}),
        ("snooze", {"minutes": 5}),
        ("resolve", {}),
        ("note", {"text": "x"}),
        ("reassign", {"to": "bob"}),
    ):
        problem(viewer.post(f"/api/v1/incidents/{inc}/{action}", json=body), 403)
        problem(anonymous.post(f"/api/v1/incidents/{inc}/{action}", json=body), 401)
    problem(
        viewer.post("/api/v1/incidents", json={"topic": "acme", "severity": 2, "title": "x"}), 403
    )
    d = viewer.get(f"/api/v1/incidents/{inc}").json()
    assert d["state"] == "triggered" and not [e for e in d["timeline"] if e["actor"]]


def test_signals_oncall_sources_reports(rt: Runtime, viewer: TestClient) -> None:
    inc = open_incident(rt)
    sigs = viewer.get("/api/v1/signals", params={"topic": "acme"}).json()["items"]
    assert [(s["kind"], s["incident_id"]) for s in sigs] == [("volume_spike", inc)]
    assert viewer.get("/api/v1/signals", params={"kind": "silence"}).json()["items"] == []
    oncall = viewer.get("/api/v1/oncall").json()
    assert oncall["schedules"] == [
        {
            "schedule": "primary",
            "person_id": "alice",
            "person": "Alice",
            "until": "2026-09-07T07:00:00+00:00",
            "until_local": "Mon 07 Sep 09:00 CEST",
            "next_person_id": "bob",
            "next_person": "Bob",
        }
    ]
    later = viewer.get("/api/v1/oncall", params={"at": "2026-09-08T12:00:00+02:00"}).json()
    assert later["schedules"][0]["person_id"] == "bob"
    problem(viewer.get("/api/v1/oncall", params={"at": "2026-09-08T12:00"}), 422)
    with rt.sessions.begin() as s:
        s.add(
            Source(
                topic="acme",
                platform="rss",
                query="https://example.com/f",
                health="ok",
                last_success_at=T0,
            )
        )
    (src,) = viewer.get("/api/v1/sources").json()["items"]
    assert (src["topic"], src["health"], src["last_success"]) == ("acme", "ok", T0.isoformat())
    with rt.sessions.begin() as s:
        assert send_weekly(s, rt.config, T0, week="2026-W35") > 0
    (report,) = viewer.get("/api/v1/reports").json()["items"]
    assert report["name"] == "weekly-2026-W35" and report["kind"] == "weekly"
    assert report["recipients"] >= 1 and report["summary"]


def test_errors_are_problem_json(viewer: TestClient) -> None:
    body = problem(viewer.get("/api/v1/no/such/thing"), 404)
    assert "/api/v1/no/such/thing" in body["detail"]
    r = viewer.request("DELETE", "/api/v1/topics", headers={"Content-Type": "application/json"})
    problem(r, 405)
    assert r.headers["allow"] == "GET"
    body = problem(viewer.get("/api/v1/mentions", params={"limit": "many"}), 422)
    assert body["errors"][0]["loc"] == ["query", "limit"]


def test_an_unexpected_failure_is_a_500_problem(
    viewer: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import alerts.api_v1.routes as routes

    def boom(*_a: Any, **_k: Any) -> Any:
        raise RuntimeError("secret detail that must not leak")

    monkeypatch.setattr(routes, "list_signals", boom)
    body = problem(viewer.get("/api/v1/signals"), 500)
    assert "secret" not in body["detail"]


def test_openapi_document(viewer: TestClient, anonymous: TestClient) -> None:
    doc = anonymous.get("/api/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    paths = set(doc["paths"])
    assert {
        "/api/v1/topics",
        "/api/v1/topics/{name}",
        "/api/v1/mentions",
        "/api/v1/incidents",
        "/api/v1/incidents/{incident_id}",
        "/api/v1/incidents/{incident_id}/acknowledge",
        "/api/v1/incidents/{incident_id}/snooze",
        "/api/v1/incidents/{incident_id}/resolve",
        "/api/v1/incidents/{incident_id}/note",
        "/api/v1/incidents/{incident_id}/reassign",
        "/api/v1/signals",
        "/api/v1/oncall",
        "/api/v1/sources",
        "/api/v1/reports",
    } == paths
    for path in doc["paths"].values():
        for op in path.values():
            for code, response in op["responses"].items():
                if int(code) >= 400:
                    assert list(response["content"]) == [PROBLEM], (code, op["operationId"])
    mention = doc["components"]["schemas"]["Mention"]
    assert set(mention["required"]) >= {"id", "text", "created_at", "platform_id"}
