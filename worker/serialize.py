"""JSON forms of pages and mentions, for task arguments (never pickle: STYLE.md, regrets)."""

from __future__ import annotations

import copy
from dataclasses import fields
from datetime import datetime
from typing import Any

from worker.model import Mention, Page, RateLimit

_MENTION_FIELDS = tuple(f.name for f in fields(Mention))


def mention_to_json(m: Mention) -> dict[str, Any]:
    """What `dataclasses.asdict` gives (every field, `extra` a deep copy), at a tenth of its
    cost: a replay sends every mention of its file through here."""
    data = {name: getattr(m, name) for name in _MENTION_FIELDS}
    data["created_at"] = m.created_at.isoformat()
    data["extra"] = copy.deepcopy(m.extra) if m.extra else {}
    return data


def mention_from_json(data: dict[str, Any]) -> Mention:
    return Mention(**{**data, "created_at": datetime.fromisoformat(data["created_at"])})


def page_to_json(page: Page) -> dict[str, Any]:
    rl = page.rate_limit
    return {
        "mentions": [mention_to_json(m) for m in page.mentions],
        "cursor": page.cursor,
        "not_modified": page.not_modified,
        "more": page.more,
        "skipped": list(page.skipped),
        "rate_limit": None
        if rl is None
        else {
            "limit": rl.limit,
            "remaining": rl.remaining,
            "reset_at": rl.reset_at.isoformat() if rl.reset_at else None,
            "retry_after_s": rl.retry_after_s,
        },
    }


def page_from_json(data: dict[str, Any]) -> Page:
    rl = data.get("rate_limit")
    return Page(
        mentions=[mention_from_json(m) for m in data.get("mentions", [])],
        cursor=dict(data.get("cursor") or {}),
        not_modified=bool(data.get("not_modified")),
        more=bool(data.get("more")),
        skipped=list(data.get("skipped") or []),
        rate_limit=None
        if not rl
        else RateLimit(
            limit=rl.get("limit"),
            remaining=rl.get("remaining"),
            reset_at=datetime.fromisoformat(rl["reset_at"]) if rl.get("reset_at") else None,
            retry_after_s=rl.get("retry_after_s"),
        ),
    )
