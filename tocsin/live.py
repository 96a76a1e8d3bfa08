"""Commands that act on the live database: import (incident commands: tocsin/incident_cli.py)."""

from __future__ import annotations

import sys
from pathlib import Path

from worker.runtime import Runtime, get_runtime, utcnow
from worker.settings import SettingsError


def ensure_database(rt: Runtime) -> None:
    """The embedded SQLite database migrates itself; PostgreSQL must be migrated on purpose."""
    from worker.storage.db import current_revision, upgrade

    url = rt.settings.database_url
    if url.startswith("sqlite"):
        upgrade(url)
    elif current_revision(url) is None:
        raise SettingsError("TOCSIN_DATABASE_URL: database is empty; run `tocsin db upgrade` first")


def _columns(spec: str | None) -> dict[str, str] | None:
    if not spec:
        return None
    mapping = {}
    for part in spec.split(","):
        src, _, dst = part.partition("=")
        if not src or not dst:
            raise SettingsError(f"--columns: expected 'csv_name=field', got {part!r}")
        mapping[src.strip()] = dst.strip()
    return mapping


def import_file(path: Path, *, topic: str | None, columns: str | None) -> int:
    from worker.ingest import ingest_page
    from worker.sources.jsonl import read_mentions_file

    rt = get_runtime()
    ensure_database(rt)
    mentions, errors = read_mentions_file(path, columns=_columns(columns))
    for e in errors:
        print(f"{path}:{e.line_no}: skipped: {e.reason}", file=sys.stderr)
    now = utcnow()
    by_topic: dict[str, list] = {}
    for m in mentions:
        by_topic.setdefault(m.topic or topic or "default", []).append(m)
    stored = 0
    for name, ms in by_topic.items():
        terms = rt.config.topic(name).detection_settings().all_crisis_terms
        for i in range(0, len(ms), 1000):
            with rt.sessions.begin() as session:
                stored += ingest_page(
                    session,
                    ms[i : i + 1000],
                    now,
                    bucket_seconds=rt.config.bucket_minutes * 60,
                    topic=name,
                    crisis_terms=terms,
                ).stored
    print(
        f"imported {stored} new mentions ({len(mentions) - stored} already stored, "
        f"{len(errors)} lines skipped) into {', '.join(sorted(by_topic)) or 'nothing'}"
    )
    return 0
