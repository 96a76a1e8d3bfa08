"""/metrics and /healthz read the database, so they describe every process: scraped here from the
web app after the pipeline ran in this test's own calls (ingest, polls, incident, delivery)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from alerts.channels import build_channels
from alerts.outbox import dispatch_due
from alerts.web import create_app
from tests.alerts.scenario import T0, Clock, make_runtime, open_incident
from worker.heartbeat import record_heartbeat
from worker.ingest import ingest_page
from worker.model import Mention
from worker.pipeline import record_poll_failure
from worker.runtime import Runtime
from worker.storage.models import Source


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    monkeypatch.delenv("TOCSIN_API_TOKEN", raising=False)
    rt = make_runtime(tmp_path)
    yield rt
    rt.dispose()


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    out = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_describe_the_pipeline(runtime: Runtime) -> None:
    with runtime.sessions.begin() as s:
        src = Source(topic="acme", platform="rss", query="http://feed", cursor={})
        s.add(src)
        s.flush()
        source_id = src.id
    with runtime.sessions.begin() as s:
        page = [Mention("rss", f"m{i}", T0 - timedelta(minutes=20), "Acme ok") for i in range(4)]
        ingest_page(
            s,
            page,
            T0 - timedelta(minutes=10),
            bucket_seconds=300,
            topic="acme",
            source_id=source_id,
        )
        record_poll_failure(
            s,
            source_id,
            T0 - timedelta(minutes=5),
            "HTTP 503",
            permanent=False,
            retry_after_s=None,
            poll_seconds=300,
            health="unavailable",
        )
        record_heartbeat(s, "evaluate:acme", T0 - timedelta(seconds=30), seconds=0.25)
        record_heartbeat(s, "escalation_tick", T0 - timedelta(seconds=4), seconds=0.01)
    open_incident(runtime)  # one SEV3 incident, its first step written to the outbox at T0
    clock = Clock()
    clock.now = T0 + timedelta(minutes=2)
    client = TestClient(create_app(lambda: runtime, clock=clock), client=("127.0.0.1", 1))
    before = scrape(client)
    assert (
        before[
            (
                "tocsin_source_mentions_ingested_total",
                (("platform", "rss"), ("source", str(source_id)), ("topic", "acme")),
            )
        ]
        == 4
    )
    assert (
        before[
            (
                "tocsin_source_polls_total",
                (("health", "ok"), ("platform", "rss"), ("topic", "acme")),
            )
        ]
        == 1
    )
    assert (
        before[
            (
                "tocsin_source_polls_total",
                (("health", "unavailable"), ("platform", "rss"), ("topic", "acme")),
            )
        ]
        == 1
    )
    assert before[("tocsin_evaluation_duration_seconds", (("topic", "acme"),))] == 0.25
    assert before[("tocsin_evaluation_age_seconds", (("topic", "acme"),))] == 150
    assert before[("tocsin_open_incidents", (("severity", "SEV3"), ("state", "triggered")))] == 1
    assert before[("tocsin_outbox_oldest_due_age_seconds", ())] == 120
    assert before[("tocsin_escalation_tick_lag_seconds", ())] == 124
    dispatch_due(runtime.sessions, build_channels(runtime.config, runtime.outbox_dir), clock.now)
    after = scrape(client)
    sent = {k: v for k, v in after.items() if k[0] == "tocsin_notification_deliveries_total"}
    assert sum(sent.values()) >= 1 and all(dict(k[1])["outcome"] == "ok" for k in sent)
    assert after[("tocsin_outbox_oldest_due_age_seconds", ())] == 0
    # From another host without a token: refused like the API.
    remote = TestClient(create_app(lambda: runtime, clock=clock), client=("203.0.113.9", 1))
    assert remote.get("/metrics").status_code == 403


def test_healthz_reports_each_component(runtime: Runtime) -> None:
    clock = Clock()
    client = TestClient(create_app(lambda: runtime, clock=clock), client=("198.51.100.7", 1))
    with runtime.sessions.begin() as s:
        record_heartbeat(s, "deadman", T0, detail={"since": T0.isoformat()})
        record_heartbeat(s, "evaluate:acme", T0)
        record_heartbeat(s, "escalation_tick", T0)
    body = client.get("/healthz").json()
    assert body["ok"] is True
    assert set(body["components"]) == {
        "database",
        "broker",
        "evaluation",
        "beat",
        "outbox",
        "sources",
    }
    clock.now = T0 + timedelta(minutes=10)
    stalled = client.get("/healthz")
    assert stalled.status_code == 200
    body = stalled.json()
    assert body["ok"] is False
    assert (
        body["components"]["beat"]["ok"] is False and body["components"]["evaluation"]["ok"] is True
    )
    assert "last ran 10 min ago" in body["components"]["beat"]["detail"]
