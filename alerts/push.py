"""`POST /api/mentions`: mentions pushed by any other tool (a listening vendor's export, Zapier,
an internal system), as Mentions JSONL or a JSON array.

1. Authenticate the sender against the `[sources.push.NAME]` tables of tocsin.toml: either
   `Authorization: Bearer <token>` (the value of `token_env`), or
   `X-Tocsin-Signature: sha256=<hex HMAC-SHA256 of the raw body>` keyed with the value of
   `secret_env` (the GitHub webhook convention). Compared in constant time. Anything else is
   401 and nothing is read. This route does not use the API token of the other `/api` routes.
2. Parse every record with the import's validation; a bad record is reported by number and
   reason, the good ones are kept.
3. Store them like an import (ingest: score, dedupe, recount buckets) in one transaction.
   Idempotent on (topic, platform, id): the same batch sent twice is stored once.

Records without a `topic` go to the push source's `topic` (else `default`). The detectors pick
new mentions up on their next evaluation tick.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from worker.model import Mention
from worker.runtime import Runtime
from worker.sources.jsonl import LineError, iter_jsonl, mention_from_dict
from worker.sources.settings import PushSource, push_sources

MAX_BODY = 10 * 1024 * 1024
SIGNATURE = "x-tocsin-signature"


def authenticate(
    sources: Mapping[str, PushSource],
    headers: Mapping[str, str],
    body: bytes,
    env: Mapping[str, str],
) -> tuple[str, PushSource] | None:
    """The push source whose token or signature matches, or None."""
    auth = headers.get("authorization", "")
    token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
    signature = headers.get(SIGNATURE, "").strip()
    for name, src in sources.items():
        expected = env.get(src.token_env or "", "") if src.token_env else ""
        if token and expected and hmac.compare_digest(token.encode(), expected.encode()):
            return name, src
        secret = env.get(src.secret_env or "", "") if src.secret_env else ""
        if signature and secret:
            digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            if hmac.compare_digest(
                signature.removeprefix("sha256=").lower().encode(), digest.encode()
            ):
                return name, src
    return None


def parse_batch(body: bytes) -> tuple[list[Mention], list[LineError]]:
    """A JSON array of Mentions objects, or Mentions JSONL; errors by record number (from 1)."""
    mentions: list[Mention] = []
    errors: list[LineError] = []
    if body.lstrip()[:1] == b"[":
        try:
            records = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise HTTPException(400, f"not a valid JSON array: {exc}") from None
        for no, record in enumerate(records, start=1):
            if not isinstance(record, dict):
                errors.append(LineError(no, f"expected a JSON object, got {type(record).__name__}"))
                continue
            try:
                mentions.append(mention_from_dict(record))
            except ValueError as exc:
                errors.append(LineError(no, str(exc)))
        return mentions, errors
    for item in iter_jsonl(body.splitlines()):
        if isinstance(item, LineError):
            errors.append(item)
        else:
            mentions.append(item)
    return mentions, errors


def push_router(
    runtime_provider: Callable[[], Runtime],
    clock: Callable[[], datetime],
    env: Callable[[], Mapping[str, str]] = lambda: os.environ,
) -> APIRouter:
    router = APIRouter()

    @router.post("/api/mentions")
    async def push_mentions(request: Request) -> JSONResponse:
        from worker.ingest import ingest_page

        rt = runtime_provider()
        sources = push_sources(rt.config)
        declared = int(request.headers.get("content-length") or 0)
        if declared > MAX_BODY:
            raise HTTPException(413, f"body over {MAX_BODY} bytes; send smaller batches")
        body = await request.body()
        if len(body) > MAX_BODY:
            raise HTTPException(413, f"body over {MAX_BODY} bytes; send smaller batches")
        if not sources:
            raise HTTPException(
                401, "push is not configured: add [sources.push.NAME] to tocsin.toml"
            )
        who = authenticate(sources, {k.lower(): v for k, v in request.headers.items()}, body, env())
        if who is None:
            raise HTTPException(401, "missing or wrong bearer token or X-Tocsin-Signature")
        name, src = who
        mentions, errors = parse_batch(body)
        by_topic: dict[str, list[Mention]] = {}
        for m in mentions:
            by_topic.setdefault(m.topic or src.topic or "default", []).append(m)
        now = clock()
        stored = 0
        with rt.sessions.begin() as session:
            for topic, ms in by_topic.items():
                terms = rt.config.topic(topic).detection_settings().all_crisis_terms
                stored += ingest_page(
                    session,
                    ms,
                    now,
                    bucket_seconds=rt.config.bucket_minutes * 60,
                    topic=topic,
                    crisis_terms=terms,
                ).stored
        result: dict[str, Any] = {
            "source": name,
            "received": len(mentions),
            "stored": stored,
            "duplicates": len(mentions) - stored,
            "errors": [{"record": e.line_no, "reason": e.reason} for e in errors],
        }
        return JSONResponse(result, status_code=200)

    return router
