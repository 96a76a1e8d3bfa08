"""The listening side's jobs (rows of `worker.jobs.JOBS`), and the Celery tasks made from the table.

Each job is thin: load, call a plain function, commit, then send follow-ups (`ctx.send`, only
after the transaction that justifies them has committed: STYLE.md habit 3). Every one is safe
to run twice: claims are conditional updates, inserts are idempotent, and the cursor only moves
forward from the cursor the fetch started with. The alerts side is reached by task *name*
(`alerts.observe`), never by import.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from worker.celery_app import app
from worker.jobs import JOBS, Context, Job, run
from worker.logs import get_logger
from worker.runtime import get_runtime, utcnow

log = get_logger("tocsin.worker")


# --- the jobs -------------------------------------------------------------------------------


#: Per database, the sources this process last made the sources table match (`sync_sources`
#: reads every source row: done when the config's queries change, or the count of enabled
#: sources no longer matches them — another process, a recreated database — not at every tick).
_SYNCED: dict[str, frozenset[tuple[str, str, str]]] = {}

#: Sources claimed by one `poll_due` at most (1,000 topics' sources in a few calls, not twenty).
CLAIM_LIMIT = 500


def poll_due(ctx: Context, now: datetime) -> int:
    """Claim due sources (spread over their interval) and send one poll for each."""
    from worker.sources.schedule import claim_due_sources, enabled_sources, sync_sources

    if not ctx.online:
        return 0
    wanted = frozenset(
        (t.name, platform, q)
        for t in ctx.config.topics.values()
        for platform, queries in t.queries.items()
        for q in queries
    )
    with ctx.sessions.begin() as session:
        database = str(session.get_bind().engine.url)
        if _SYNCED.get(database) != wanted or enabled_sources(session) != len(wanted):
            sync_sources(session, ctx.config)
        claimed = claim_due_sources(session, ctx.config, now, limit=CLAIM_LIMIT)
    _SYNCED[database] = wanted
    for source_id in claimed:
        ctx.send("sources.poll", [source_id], now)
    return len(claimed)


def poll(ctx: Context, now: datetime, source_id: int) -> dict[str, Any]:
    """Poll one source until caught up; each page is stored with its cursor as it comes
    (worker.sources.poll). New mentions: evaluate the topic, after the commits."""
    from worker.sources.poll import poll_source

    result = poll_source(ctx.sessions, ctx.config, source_id, now)
    if result is None:
        return {"skipped": True}
    log.info(
        "polled",
        platform=result.platform,
        health=result.health,
        fetched=result.fetched,
        new=result.new,
    )
    if result.new:
        ctx.send("detect.evaluate", [[result.topic]], now)
    return result.as_json()


def ingest_page(
    ctx: Context,
    now: datetime,
    source_id: int,
    page: dict[str, Any],
    expected_cursor: dict[str, Any],
) -> dict[str, Any]:
    """Store a fetched page and advance the source's cursor, in one transaction."""
    from sqlalchemy import select
    from sqlalchemy.exc import OperationalError, StatementError

    from worker.ingest import ingest_page as ingest
    from worker.normalize import split_storable, storage_reason
    from worker.pipeline import record_poll_failure
    from worker.serialize import page_from_json
    from worker.storage.models import Source

    parsed = page_from_json(page)
    # One bad entry never costs the others: refused ones are reported and the rest stored.
    mentions, rejected = split_storable(parsed.mentions)
    for r in rejected:
        log.warning("skipped entry", reason=r)
    try:
        with ctx.sessions.begin() as session:
            name = session.execute(
                select(Source.__table__.c.topic).where(Source.__table__.c.id == source_id)
            ).scalar()
            if name is None:
                return {"stored": 0}
            topic = ctx.config.topic(name)
            result = ingest(
                session,
                mentions,
                now,
                bucket_seconds=ctx.config.bucket_minutes * 60,
                topic=topic.name,
                source_id=source_id,
                expected_cursor=expected_cursor,
                new_cursor=parsed.cursor,
                crisis_terms=topic.detection_settings().all_crisis_terms,
                normalised=True,  # by `split_storable` above
            )
    except (StatementError, ValueError, OverflowError) as exc:
        if isinstance(exc, OperationalError):
            raise  # the database is unreachable: retried by the next poll, not the page's fault
        # The page could not be stored: the cursor stays put, and the source says why.
        reason = f"ingest failed: {storage_reason(exc)}"
        with ctx.sessions.begin() as session:
            source = session.get(Source, source_id)
            record_poll_failure(
                session,
                source_id,
                now,
                reason,
                permanent=False,
                retry_after_s=None,
                poll_seconds=ctx.config.topic(source.topic).poll_seconds if source else 300,
                health="bad_response",
            )
        log.warning("ingest failed", reason=reason)
        return {"stored": 0, "error": reason}
    log.info("ingested", topic=topic.name, stored=result.stored, duplicates=result.duplicates)
    if result.stored:
        ctx.send("detect.evaluate", [[topic.name]], now)
    return {"stored": result.stored, "duplicates": result.duplicates}


#: The `Context.extra` key a shell sets when every `ingest.push` it sends carries mentions that
#: `worker.normalize` already made storable: a replay, whose file reader normalises each line.
#: A Celery worker never sets it: mentions that came through the broker are normalised here.
PUSH_NORMALISED = "push_normalised"


def ingest_push(
    ctx: Context, now: datetime, batches: dict[str, list[dict[str, Any]]]
) -> dict[str, dict[str, int]]:
    """Store mentions that were handed to us (a replay's file, a push), without a source: per
    topic, its mentions, all in one transaction. The topics that got new mentions are then
    evaluated, in the order given, by one `detect.evaluate`."""
    from worker.ingest import ingest_topics
    from worker.serialize import mention_from_json

    width = ctx.config.bucket_minutes * 60
    with ctx.sessions.begin() as session:
        results = ingest_topics(
            session,
            {t: [mention_from_json(m) for m in ms] for t, ms in batches.items()},
            now,
            bucket_seconds=width,
            crisis_terms={
                t: ctx.config.topic(t).detection_settings().all_crisis_terms for t in batches
            },
            normalised=bool(ctx.extra.get(PUSH_NORMALISED)),
        )
    for topic, result in results.items():
        log.info("ingested", topic=topic, stored=result.stored, duplicates=result.duplicates)
    stored = [t for t, r in results.items() if r.stored]
    if stored:
        ctx.send("detect.evaluate", [stored], now)
    return {t: {"stored": r.stored, "duplicates": r.duplicates} for t, r in results.items()}


#: Topics evaluated by one `detect.evaluate` task at most: a batch shares one transaction and
#: its statements (see `worker.pipeline.evaluate_topics`), while a thousand due topics still
#: spread over several tasks, and so over the worker processes.
EVALUATE_BATCH = 100


def evaluate_due(ctx: Context, now: datetime) -> int:
    """Send the evaluation of every topic with something new (`worker.pipeline.topics_due`),
    up to `EVALUATE_BATCH` topics a task."""
    from worker.pipeline import STATES, due_topics
    from worker.storage.dialect import peek

    topics = due_topics(peek(ctx.sessions, STATES), ctx.config, now)
    for i in range(0, len(topics), EVALUATE_BATCH):
        ctx.send("detect.evaluate", [topics[i : i + EVALUATE_BATCH]], now)
    return len(topics)


def evaluate(ctx: Context, now: datetime, topics: list[str] | str) -> dict[str, list[int]]:
    """Run the detectors for these topics in one transaction (`evaluate_topics`); hand each
    topic's new signals to the alerts side after commit, one `alerts.observe` per topic in the
    order given. Should the batch fail, each topic is tried again in a transaction of its own,
    so one topic's failure costs no other its evaluation. (A single name is accepted too: a
    task queued by a worker of the previous version.)"""
    names = list(dict.fromkeys([topics] if isinstance(topics, str) else topics))
    try:
        found = _evaluate(ctx, now, names)
    except Exception:
        if len(names) <= 1:
            raise
        log.warning("batch evaluation failed, evaluating each topic alone", topics=len(names))
        found, failed = {}, None
        for name in names:
            try:
                found.update(_evaluate(ctx, now, [name]))
            except Exception as exc:  # logged, and raised once the others have run
                log.exception("evaluation failed", topic=name)
                failed = failed or exc
        _observe(ctx, now, found)
        if failed is not None:
            raise failed from None
        return found
    _observe(ctx, now, found)
    return found


def _evaluate(ctx: Context, now: datetime, names: list[str]) -> dict[str, list[int]]:
    from worker.heartbeat import EVALUATE, record_heartbeat
    from worker.pipeline import CACHE, evaluate_topics

    seconds: dict[str, float] = {}
    try:
        with ctx.sessions.begin() as session:
            found = evaluate_topics(session, ctx.config, names, now, seconds=seconds)
            if ctx.online:  # for the dead man's switch and /metrics (duration per topic)
                for name in names:
                    record_heartbeat(session, f"{EVALUATE}:{name}", now, seconds=seconds.get(name))
    except Exception:
        # The transaction rolled back, but the series cache may have moved on with it (volume
        # state worked out, never stored): forget it, so the next try reads the database.
        CACHE.clear()
        raise
    return found


def _observe(ctx: Context, now: datetime, found: dict[str, list[int]]) -> None:
    for topic, ids in found.items():
        if ids:
            log.info("signals", topic=topic, signal_ids=ids)
            ctx.send("alerts.observe", [ids], now)


# --- Celery -----------------------------------------------------------------------------------


#: Set once every job's module is imported (`live_context`).
_JOBS_IMPORTED: list[bool] = []


def live_context() -> Context:
    """The context of a job run by a Celery worker: the process runtime, sends through the broker."""
    # Every job module is imported before the runtime reads tocsin.toml: the alerts side registers
    # its channel types' option checks on import (worker never imports alerts by name). Once per
    # process: the check cost ~0.4 ms CPU, paid by every task (4 µs a mention on a page of 100).
    if not _JOBS_IMPORTED:
        for job in JOBS:
            job.function  # noqa: B018 - imports the job's module (not an assert: -O strips those)
        _JOBS_IMPORTED.append(True)
    rt = get_runtime()

    def send(name: str, args: Any, now: datetime) -> None:
        app.send_task(name, args=list(args), kwargs={"now": now.isoformat()})

    return Context(
        sessions=rt.sessions,
        config=rt.config,
        send=send,
        base_url=rt.settings.base_url,
        secret_key=rt.settings.secret_key,
        outbox_dir=rt.outbox_dir,
        clock=utcnow,
    )


def _celery_task(job: Job) -> None:
    def body(*args: Any, now: str | None = None) -> Any:
        return run(
            job.name, live_context(), datetime.fromisoformat(now) if now else utcnow(), *args
        )

    body.__name__ = body.__qualname__ = job.name.replace(".", "_")
    app.task(name=job.name)(body)


for _job in JOBS:
    _celery_task(_job)
