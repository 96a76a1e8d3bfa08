"""Structured logs: every line a job writes carries the job and the ids it works on, never text."""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

from worker.config import default_config
from worker.jobs import Context, InlineQueue, run
from worker.logs import configure
from worker.storage.db import make_engine, make_sessionmaker, upgrade

SECRET_TEXT = "my phone is 555-0100 and Acme burned my house"


def test_job_lines_carry_their_ids_and_never_mention_text(tmp_path: Path) -> None:
    """A pushed page is ingested and evaluated: each line names the job and the topic (bound by
    `worker.jobs.run`, not passed by the caller), and the mention's text appears nowhere."""
    stream = io.StringIO()
    configure("json", stream=stream)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        queue = InlineQueue()
        ctx = Context(make_sessionmaker(engine), default_config(["acme"]), queue.send, online=False)
        queue.ctx = ctx
        now = datetime(2026, 4, 1, 12, tzinfo=UTC)
        page = [
            {
                "platform": "bluesky",
                "id": str(k),
                "created_at": (now - timedelta(minutes=k)).isoformat(),
                "text": SECRET_TEXT,
                "topic": "acme",
            }
            for k in range(1, 30)
        ]
        run("ingest.push", ctx, now, {"acme": page})
        queue.drain()
    finally:
        engine.dispose()
        logging.getLogger("tocsin").handlers = []
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    ingested = [x for x in lines if x["event"] == "ingested"]
    assert ingested and ingested[0]["job"] == "ingest.push" and ingested[0]["topic"] == "acme"
    assert ingested[0]["stored"] == 29
    assert all("job" in x for x in lines)
    assert SECRET_TEXT not in stream.getvalue()
