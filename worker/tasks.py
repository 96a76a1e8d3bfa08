"""Celery tasks of the listening side. Each is thin: load, call a plain function, commit, enqueue.

Follow-up tasks are sent only after the transaction that justifies them has committed (STYLE.md
habit 3), and every task is safe to run twice: claims are conditional updates, inserts are
idempotent, and the cursor only moves forward from the cursor the fetch started with.
The alerts side is reached by task *name* (`alerts.observe`), never by import.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from worker.celery_app import app
from worker.runtime import get_runtime, utcnow

log = logging.getLogger("tocsin.worker")


def _now(now_iso: str | None) -> datetime:
    return datetime.fromisoformat(now_iso) if now_iso else utcnow()


@app.task(name="sources.poll_due")
def poll_due(now_iso: str | None = None) -> int:
    """Claim due sources (spread over their interval) and enqueue one poll for each."""
    from worker.sources.schedule import claim_due_sources, sync_sources

    rt, now = get_runtime(), _now(now_iso)
    with rt.sessions.begin() as session:
        sync_sources(session, rt.config)
        claimed = claim_due_sources(session, rt.config, now)
    for source_id in claimed:
        app.send_task("sources.poll", args=[source_id, now.isoformat()])
    return len(claimed)


@app.task(name="sources.poll")
def poll(source_id: int, now_iso: str | None = None) -> dict[str, Any]:
    """Poll one source until caught up; each page is stored with its cursor as it comes
    (worker.sources.poll). New mentions → evaluate the topic, after the commits."""
    from worker.sources.poll import poll_source

    rt, now = get_runtime(), _now(now_iso)
    result = poll_source(rt.sessions, rt.config, source_id, now)
    if result is None:
        return {"skipped": True}
    log.info(
        "polled source=%s platform=%s health=%s fetched=%d new=%d",
        source_id,
        result.platform,
        result.health,
        result.fetched,
        result.new,
    )
    if result.new:
        app.send_task("detect.evaluate", args=[result.topic, None])
    return result.as_json()


@app.task(name="ingest.page")
def ingest_page(
    source_id: int,
    page: dict[str, Any],
    expected_cursor: dict[str, Any],
    now_iso: str | None = None,
) -> dict[str, int]:
    """Store a fetched page and advance the source's cursor, in one transaction."""
    from worker.ingest import ingest_page as ingest
    from worker.serialize import page_from_json
    from worker.storage.models import Source

    rt, now = get_runtime(), _now(now_iso)
    parsed = page_from_json(page)
    with rt.sessions.begin() as session:
        source = session.get(Source, source_id)
        if source is None:
            return {"stored": 0}
        topic = rt.config.topic(source.topic)
        result = ingest(
            session,
            parsed.mentions,
            now,
            bucket_seconds=rt.config.bucket_minutes * 60,
            topic=topic.name,
            source_id=source_id,
            expected_cursor=expected_cursor,
            new_cursor=parsed.cursor,
            crisis_terms=topic.detection_settings().all_crisis_terms,
        )
    log.info(
        "ingested source=%s stored=%d duplicates=%d", source_id, result.stored, result.duplicates
    )
    if result.stored:
        app.send_task("detect.evaluate", args=[topic.name, None])
    return {"stored": result.stored, "duplicates": result.duplicates}


@app.task(name="detect.evaluate_all")
def evaluate_all(now_iso: str | None = None) -> int:
    from worker.pipeline import topics_with_data

    rt, now = get_runtime(), _now(now_iso)
    with rt.sessions() as session:
        topics = topics_with_data(session, rt.config)
    for topic in topics:
        app.send_task("detect.evaluate", args=[topic, now.isoformat()])
    return len(topics)


@app.task(name="detect.evaluate")
def evaluate(topic: str, now_iso: str | None = None) -> list[int]:
    """Run the detectors for one topic; hand new signals to the alerts side after commit."""
    from worker.pipeline import evaluate_topic

    rt, now = get_runtime(), _now(now_iso)
    with rt.sessions.begin() as session:
        ids = evaluate_topic(session, rt.config, topic, now)
    if ids:
        log.info("signals topic=%s ids=%s", topic, ids)
        app.send_task("alerts.observe", args=[ids, now.isoformat()])
    return ids
