"""What the connector tests share: a config pointing a platform at its fake, polling through
the real `poll_source` into a real database, and reading back what was stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from worker.config import Config, parse_config
from worker.sources.poll import PollResult, poll_all
from worker.storage.models import MentionRow, PollRow, Source

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


def make_config(
    platform: str, queries: list[str], table: dict[str, Any], topic: str = "lumio"
) -> Config:
    def value(v: Any) -> str:
        return f'"{v}"' if isinstance(v, str) else str(v)

    lines = [f"[sources.{platform}]", *(f"{k} = {value(v)}" for k, v in table.items())]
    qs = ", ".join(json.dumps(q) for q in queries)
    text = "\n".join(
        [
            *lines,
            "",
            "[[topics]]",
            f'name = "{topic}"',
            "poll_seconds = 300",
            "[topics.queries]",
            f"{platform} = [{qs}]",
        ]
    )
    return parse_config(text)


def poll(
    sessions: sessionmaker[Session], config: Config, env: dict[str, str], now: datetime = NOW
) -> list[PollResult]:
    return poll_all(sessions, config, now, env=env)


def stored(sessions: sessionmaker[Session], platform: str) -> list[MentionRow]:
    with sessions() as s:
        return list(
            s.scalars(
                select(MentionRow)
                .where(MentionRow.platform == platform)
                .order_by(MentionRow.created_at, MentionRow.external_id)
            )
        )


def polls(sessions: sessionmaker[Session]) -> list[PollRow]:
    with sessions() as s:
        return list(s.scalars(select(PollRow).order_by(PollRow.id)))


def source(sessions: sessionmaker[Session]) -> Source:
    with sessions() as s:
        src = s.scalars(select(Source)).first()
        assert src is not None
        return src
