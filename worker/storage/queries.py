"""Column lists and row mappings shared by the reading paths (no ORM objects on hot paths)."""

from __future__ import annotations

from typing import Any

from worker.model import Mention
from worker.storage.models import MentionRow

_M = MentionRow.__table__.c

#: What the detectors need of a mention (a `Mention` plus its label, polarity and dup_key).
MENTION_COLUMNS = (
    _M.platform,
    _M.external_id,
    _M.created_at,
    _M.text,
    _M.url,
    _M.author,
    _M.author_followers,
    _M.lang,
    _M.likes,
    _M.reposts,
    _M.replies,
    _M.topic,
    _M.in_reply_to,
    _M.label,
    _M.polarity,
    _M.dup_key,
)


def mention_from_row(r: Any) -> Mention:
    """A row of `MENTION_COLUMNS` as a `Mention`; label, polarity and dup_key go in `extra`."""
    return Mention(
        platform=r.platform,
        id=r.external_id,
        created_at=r.created_at,
        text=r.text,
        url=r.url,
        author=r.author,
        author_followers=r.author_followers,
        lang=r.lang,
        likes=r.likes,
        reposts=r.reposts,
        replies=r.replies,
        topic=r.topic,
        in_reply_to=r.in_reply_to,
        extra={"label": r.label, "polarity": r.polarity, "dup_key": r.dup_key},
    )
