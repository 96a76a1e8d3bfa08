"""Commands that act on the live database: import (incident commands: tocsin/incident_cli.py)."""

from __future__ import annotations

import sys
from pathlib import Path

from worker.model import Mention
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
    """Load a Mentions JSONL/CSV file into the live database; every line is stored or reported.

    1. Read and normalise every line; a bad line is printed as `FILE:LINE: skipped: reason`.
    2. Store the good ones per topic in chunks of 1,000, one transaction each.
    3. If a chunk fails anyway (something the normaliser did not foresee), store its lines one
       by one, so only the line that cannot be stored is reported and skipped.
    The counts printed are exact: new, already stored, skipped.
    """
    from sqlalchemy.exc import OperationalError, StatementError

    from worker.ingest import ingest_page
    from worker.normalize import storage_reason
    from worker.sources.jsonl import read_numbered

    rt = get_runtime()
    ensure_database(rt)
    numbered, errors = read_numbered(path, columns=_columns(columns))
    for e in errors:
        print(f"{path}:{e.line_no}: skipped: {e.reason}", file=sys.stderr)
    now = utcnow()
    by_topic: dict[str, list[tuple[int, Mention]]] = {}
    for no, m in numbered:
        by_topic.setdefault(m.topic or topic or "default", []).append((no, m))
    stored = failed = 0

    def store(name: str, items: list[tuple[int, Mention]], terms: tuple[str, ...]) -> int:
        with rt.sessions.begin() as session:
            return ingest_page(
                session,
                [m for _, m in items],
                now,
                bucket_seconds=rt.config.bucket_minutes * 60,
                topic=name,
                crisis_terms=terms,
                normalised=True,  # read_numbered ran the edge normaliser over every line
            ).stored

    for name, items in by_topic.items():
        terms = tuple(rt.config.topic(name).detection_settings().all_crisis_terms)
        for i in range(0, len(items), 1000):
            chunk = items[i : i + 1000]
            try:
                stored += store(name, chunk, terms)
                continue
            except OperationalError:
                raise  # the database is down: not a property of a line; say so and stop
            except (StatementError, ValueError, OverflowError):
                pass
            for item in chunk:
                try:
                    stored += store(name, [item], terms)
                except OperationalError:
                    raise
                except (StatementError, ValueError, OverflowError) as exc:
                    failed += 1
                    print(f"{path}:{item[0]}: skipped: {storage_reason(exc)}", file=sys.stderr)
    skipped = len(errors) + failed
    print(
        f"imported {stored} new mentions ({len(numbered) - stored - failed} already stored, "
        f"{skipped} lines skipped) into {', '.join(sorted(by_topic)) or 'nothing'}"
    )
    return 0
