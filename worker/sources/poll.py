"""One poll of one source, paging until caught up: the plain function behind `sources.poll`
and `tocsin poll --once`.

1. Load the source and its cursor.
2. Take one request from the budget of its credentials (`budget.take`). A spent or blocked
   budget ends the poll as `rate_limited` without asking the platform; the next poll is put
   after the reset. Nobody sleeps.
3. Fetch one page with the connector; record the platform's rate-limit headers.
4. Store the page and move the cursor in one transaction, only if the cursor is still the one
   the fetch started from (compare-and-set): a cursor is never committed before its page.
5. Repeat while the connector says more pages wait (up to `max_pages`).
6. Write one `source_polls` row for the whole poll with its health word, and the next poll time.

A failure in the middle of paging (a 429 on page 3) keeps pages 1–2 stored with their cursor,
so the next poll resumes exactly there: nothing is lost and nothing is stored twice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from worker.config import Config
from worker.ingest import ingest_page
from worker.sources import get_connector
from worker.sources.base import OK, RATE_LIMITED, Query, SourceError
from worker.sources.budget import Budget, observe, take
from worker.sources.http import make_client
from worker.sources.schedule import (
    next_slot,
    phase_of,
    poll_intervals,
    record_poll_failure,
    record_poll_success,
)
from worker.sources.settings import context_for
from worker.storage.models import Source

log = logging.getLogger("tocsin.sources")

MAX_PAGES = 50


@dataclass(frozen=True)
class PollResult:
    """What one poll did; `as_json()` is a row of `tocsin poll --once --json`."""

    source_id: int
    topic: str
    platform: str
    query: str
    fetched: int
    new: int
    health: str
    detail: str
    pages: int = 0
    requests: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "platform": self.platform,
            "query": self.query,
            "fetched": self.fetched,
            "new": self.new,
            "health": self.health,
            "detail": self.detail,
        }


class _CursorMoved(Exception):
    """Another poll of the same source stored a page first: this one stops quietly."""


def poll_source(
    sessions: sessionmaker[Session],
    config: Config,
    source_id: int,
    now: datetime,
    *,
    client: httpx.Client | None = None,
    env: Mapping[str, str] | None = None,
    max_pages: int = MAX_PAGES,
) -> PollResult | None:
    """Poll one source until caught up (see the module docstring). None if it is gone."""
    with sessions() as session:
        source = session.get(Source, source_id)
        if source is None or not source.enabled:
            return None
        topic, platform, text = source.topic, source.platform, source.query
        cursor: dict[str, Any] = dict(source.cursor or {})
    query = Query(topic=topic, platform=platform, query=text)
    connector = get_connector(platform)
    ctx = context_for(config, platform, env)
    budget_of = getattr(connector, "budget", None)
    budget: Budget | None = budget_of(query, ctx) if budget_of else None
    settings = config.topic(topic)
    crisis_terms = settings.detection_settings().all_crisis_terms
    fetched = new = pages = requests = 0

    def result(health: str, detail: str) -> PollResult:
        return PollResult(
            source_id, topic, platform, text, fetched, new, health, detail, pages, requests
        )

    own_client = client is None
    http = client or make_client()
    try:
        while pages < max_pages:
            if budget is not None:
                with sessions.begin() as session:
                    until = take(session, budget, now)
                if until is not None:
                    detail = f"{platform}: budget spent, polling again after {until.isoformat()}"
                    with sessions.begin() as session:
                        record_poll_failure(
                            session,
                            source_id,
                            now,
                            detail,
                            permanent=False,
                            retry_after_s=None,
                            poll_seconds=settings.poll_seconds,
                            health=RATE_LIMITED,
                            fetched=fetched,
                            new=new,
                            retry_at=until,
                        )
                    return result(RATE_LIMITED, detail)
            requests += 1
            try:
                page = connector.fetch(http, query, cursor, now, ctx)
            except SourceError as exc:
                retry_at = None
                if budget is not None and (exc.health == RATE_LIMITED or exc.rate_limit):
                    with sessions.begin() as session:
                        retry_at = observe(
                            session,
                            budget,
                            exc.rate_limit,
                            now,
                            refused=exc.health == RATE_LIMITED,
                        )
                with sessions.begin() as session:
                    record_poll_failure(
                        session,
                        source_id,
                        now,
                        str(exc),
                        permanent=exc.permanent,
                        retry_after_s=exc.retry_after_s,
                        poll_seconds=settings.poll_seconds,
                        health=exc.health,
                        fetched=fetched,
                        new=new,
                        retry_at=retry_at,
                    )
                log.warning(
                    "poll failed source=%s platform=%s health=%s error=%s",
                    source_id,
                    platform,
                    exc.health,
                    exc,
                )
                return result(exc.health, str(exc))
            try:
                with sessions.begin() as session:
                    if budget is not None and page.rate_limit is not None:
                        observe(session, budget, page.rate_limit, now)
                    stored = _store(session, source_id, cursor, page, now, config, crisis_terms)
            except _CursorMoved:
                log.info("poll source=%s: cursor moved by another poll; stopping", source_id)
                return result(OK, "another poll of this source was ahead; stopped")
            pages += 1
            fetched += len(page.mentions)
            new += stored
            cursor = dict(page.cursor)
            if not page.more:
                break
        with sessions.begin() as session:
            src = session.get(Source, source_id)
            next_at = None
            if src is not None:
                interval = poll_intervals(session, config, [src])[source_id]
                next_at = next_slot(now, interval, phase_of(topic, platform, text, interval))
            detail = "" if pages < max_pages else f"stopped after {max_pages} pages; continues"
            record_poll_success(
                session,
                source_id,
                now,
                fetched=fetched,
                new=new,
                next_poll_at=next_at,
                detail=detail or None,
            )
        return result(OK, detail)
    finally:
        if own_client:
            http.close()


def _store(
    session: Session,
    source_id: int,
    expected: dict[str, Any],
    page: Any,
    now: datetime,
    config: Config,
    crisis_terms: Any,
) -> int:
    source = session.get(Source, source_id, with_for_update=True, populate_existing=True)
    if source is None or dict(source.cursor or {}) != expected:
        raise _CursorMoved
    stored = ingest_page(
        session,
        page.mentions,
        now,
        bucket_seconds=config.bucket_minutes * 60,
        topic=source.topic,
        crisis_terms=crisis_terms,
    ).stored
    source.cursor = dict(page.cursor)
    return stored


def poll_all(
    sessions: sessionmaker[Session],
    config: Config,
    now: datetime,
    *,
    topic: str | None = None,
    client: httpx.Client | None = None,
    env: Mapping[str, str] | None = None,
) -> list[PollResult]:
    """Every enabled source (of one topic) polled once until caught up, whatever its schedule;
    what `tocsin poll --once` runs."""
    from sqlalchemy import select

    from worker.sources.schedule import sync_sources

    with sessions.begin() as session:
        sync_sources(session, config)
        stmt = select(Source.id).where(Source.enabled.is_(True)).order_by(Source.id)
        if topic is not None:
            stmt = stmt.where(Source.topic == topic)
        ids = list(session.scalars(stmt))
    out = []
    for sid in ids:
        r = poll_source(sessions, config, sid, now, client=client, env=env)
        if r is not None:
            out.append(r)
    return out
