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
    """Claim due sources and enqueue one poll for each."""
    from worker.pipeline import claim_due_sources, sync_sources

    rt, now = get_runtime(), _now(now_iso)
    with rt.sessions.begin() as session:
        sync_sources(session, rt.config)
        claimed = claim_due_sources(session, rt.config, now)
    for source_id in claimed:
        app.send_task("sources.poll", args=[source_id])
    return len(claimed)


@app.task(name="sources.poll")
def poll(source_id: int) -> dict[str, Any]:
    """Fetch one page from a source and hand it to ingest (the cursor moves only there)."""
    from worker.pipeline import record_poll_failure
    from worker.sources import SourceError, get_connector
    from worker.sources.base import Query
    from worker.sources.http import make_client
    from worker.storage.models import Source

    rt, now = get_runtime(), utcnow()
    with rt.sessions() as session:
        source = session.get(Source, source_id)
        if source is None or not source.enabled:
            return {"skipped": True}
        query = Query(topic=source.topic, platform=source.platform, query=source.query)
        cursor = dict(source.cursor or {})
    try:
        with make_client() as client:
            page = get_connector(query.platform).fetch(client, query, cursor, now)
    except SourceError as exc:
        with rt.sessions.begin() as session:
            record_poll_failure(
                session,
                source_id,
                now,
                str(exc),
                permanent=exc.permanent,
                retry_after_s=exc.retry_after_s,
                poll_seconds=rt.config.topic(query.topic).poll_seconds,
            )
        log.warning("poll failed source=%s platform=%s error=%s", source_id, query.platform, exc)
        return {"error": str(exc)}
    from worker.serialize import page_to_json

    app.send_task("ingest.page", args=[source_id, page_to_json(page), cursor, now.isoformat()])
    if page.more:
        app.send_task("sources.poll", args=[source_id])
    return {"mentions": len(page.mentions), "not_modified": page.not_modified}


@app.task(name="ingest.page")
def ingest_page(
    source_id: int,
    page: dict[str, Any],
    expected_cursor: dict[str, Any],
    now_iso: str | None = None,
) -> dict[str, Any]:
    """Store a fetched page and advance the source's cursor, in one transaction."""
    from sqlalchemy.exc import OperationalError, StatementError

    from worker.ingest import ingest_page as ingest
    from worker.normalize import split_storable, storage_reason
    from worker.pipeline import record_poll_failure
    from worker.serialize import page_from_json
    from worker.storage.models import Source

    rt, now = get_runtime(), _now(now_iso)
    parsed = page_from_json(page)
    # One bad entry never costs the others: refused ones are reported and the rest stored.
    mentions, rejected = split_storable(parsed.mentions)
    for r in rejected:
        log.warning("skipped source=%s entry %s", source_id, r)
    try:
        with rt.sessions.begin() as session:
            source = session.get(Source, source_id)
            if source is None:
                return {"stored": 0}
            topic = rt.config.topic(source.topic)
            result = ingest(
                session,
                mentions,
                now,
                bucket_seconds=rt.config.bucket_minutes * 60,
                topic=topic.name,
                source_id=source_id,
                expected_cursor=expected_cursor,
                new_cursor=parsed.cursor,
                crisis_terms=topic.detection_settings().all_crisis_terms,
            )
    except (StatementError, ValueError, OverflowError) as exc:
        if isinstance(exc, OperationalError):
            raise  # the database is unreachable: retried by the next poll, not the page's fault
        # The page could not be stored: the cursor stays put, and the source says why.
        reason = f"ingest failed: {storage_reason(exc)}"
        with rt.sessions.begin() as session:
            source = session.get(Source, source_id)
            record_poll_failure(
                session,
                source_id,
                now,
                reason,
                permanent=False,
                retry_after_s=None,
                poll_seconds=rt.config.topic(source.topic).poll_seconds if source else 300,
                health="bad_response",
            )
        log.warning("ingest failed source=%s %s", source_id, reason)
        return {"stored": 0, "error": reason}
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
    import time

    from worker.heartbeat import EVALUATE, record_heartbeat
    from worker.pipeline import evaluate_topic

    rt, now = get_runtime(), _now(now_iso)
    started = time.perf_counter()
    with rt.sessions.begin() as session:
        ids = evaluate_topic(session, rt.config, topic, now)
        # For the dead man's switch and /metrics (evaluation duration per topic).
        record_heartbeat(session, f"{EVALUATE}:{topic}", now, seconds=time.perf_counter() - started)
    if ids:
        log.info("signals topic=%s ids=%s", topic, ids)
        app.send_task("alerts.observe", args=[ids, now.isoformat()])
    return ids
