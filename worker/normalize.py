"""The edge normaliser: every Mention from every source is made storable here, in one place.

A post is hostile or merely strange input; one bad field must never cost the other posts of a page
or a file. `normalize_mention` takes whatever a connector or an import produced and returns a
Mention whose every field fits its column (`worker.storage.models.MentionRow`):

1. Text fields: NUL and other control characters are removed (newlines and tabs are kept in the
   body text only), lone surrogates become U+FFFD, and a value longer than its column is cut with
   a marker (``…[truncated]``). An external id or a reply id that is too long is replaced by its
   SHA-256 (cutting it could make two posts one), and a language tag that is not a short tag is
   dropped.
2. Counts (followers, likes, reposts, replies): anything that is not a finite non-negative whole
   number becomes unknown (None for followers, 0 for the others); a value above what the database
   holds is clamped to the largest it holds, so `likes = 2**40` is stored as "a very large number".
   The engagement counts are clamped so that their sum still fits a 32-bit integer, which is what
   the bucket recount adds up per row.
3. `extra`: NaN and ±Infinity become null, strings are cleaned and cut, keys are made strings,
   nesting deeper than `EXTRA_MAX_DEPTH` and containers beyond `EXTRA_MAX_ITEMS` are cut with a
   marker, so a hostile payload cannot make the stored JSON unbounded or unparseable.
4. `created_at` must carry an offset and be representable in UTC between 1970 and 9998; anything
   else (e.g. ``0001-01-01T00:00:00+14:00``, which overflows) is refused with `Unstorable`.
5. A platform or topic name that does not fit its column is refused with `Unstorable`: cutting an
   identifier would silently merge it with another.

`Unstorable` is a ValueError whose message says which field and why; callers report it next to
the line number (`FILE:LINE: skipped: …`) or the source and external id, and store the rest.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from worker.model import Mention

#: Column sizes of `mentions` (worker/storage/models.py); tests check they agree with the model.
PLATFORM_MAX = 40
TOPIC_MAX = 100
EXTERNAL_ID_MAX = 300
AUTHOR_MAX = 300
IN_REPLY_TO_MAX = 300
LANG_MAX = 16
#: Text and URL are TEXT columns; these bounds keep one post from weighing megabytes.
TEXT_MAX = 20_000
URL_MAX = 4_000
#: INTEGER columns hold 32-bit signed values on PostgreSQL.
INT32_MAX = 2**31 - 1
#: likes + reposts + replies is summed per row by the bucket recount, so each gets a third.
ENGAGEMENT_MAX = INT32_MAX // 3
EXTRA_MAX_DEPTH = 8
EXTRA_MAX_ITEMS = 200
EXTRA_STRING_MAX = 2_000

TRUNCATED = "…[truncated]"
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9998, 12, 31, tzinfo=UTC)

# C0 and C1 controls except tab and newline, DEL, and NUL: removed. In single-line fields, tabs,
# newlines and carriage returns then become single spaces (an author cannot start a new line).
_CONTROL_KEEP_LINES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_LANG = re.compile(r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{1,8})*$")


class Unstorable(ValueError):
    """A mention that cannot be stored even after normalising; the message names field and reason."""


@dataclass(frozen=True)
class Rejected:
    """A mention refused at the edge: where it came from and why (for the report)."""

    platform: str
    external_id: str
    reason: str

    def __str__(self) -> str:
        return f"{self.platform} {self.external_id!r}: {self.reason}"


def clean_text(value: str, *, keep_lines: bool = False) -> str:
    """Remove control characters and lone surrogates; single-line fields lose newlines too."""
    value = _SURROGATE.sub("\ufffd", value)
    if keep_lines:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
        return _CONTROL_KEEP_LINES.sub("", value)
    return " ".join(_CONTROL_KEEP_LINES.sub("", value).split())


def cut(value: str, limit: int) -> str:
    """`value` if it fits `limit` characters, else its start followed by the truncation marker."""
    if len(value) <= limit:
        return value
    return value[: limit - len(TRUNCATED)] + TRUNCATED


def _identifier(value: str, limit: int) -> str:
    """An id that fits: kept as is, or replaced by its SHA-256 (never cut, which could merge two)."""
    value = clean_text(value)
    if len(value) <= limit:
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()


def _count(value: Any, limit: int) -> int | None:
    """A count as a non-negative int ≤ limit, or None when it is not a count at all."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            return None
        value = int(value)
    if not isinstance(value, int) or value < 0:
        return None
    return min(value, limit)


def _time(value: Any) -> datetime:
    if not isinstance(value, datetime):
        raise Unstorable(f"'created_at' is not a time: {value!r}"[:200])
    if value.tzinfo is None or value.utcoffset() is None:
        raise Unstorable(f"'created_at' has no time zone: {value.isoformat()}")
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise Unstorable(f"'created_at' cannot be expressed in UTC: {value.isoformat()}") from None
    if not EARLIEST <= utc <= LATEST:
        raise Unstorable(f"'created_at' is outside 1970–9998: {value.isoformat()}")
    return utc


def clean_json(value: Any, depth: int = 0) -> Any:
    """A JSON value safe to store: finite numbers, clean bounded strings, bounded nesting."""
    if value is None or isinstance(value, bool | int):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**63 - 1:
            return None
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return cut(clean_text(value, keep_lines=True), EXTRA_STRING_MAX)
    if depth >= EXTRA_MAX_DEPTH:
        return TRUNCATED
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for i, (k, v) in enumerate(value.items()):
            if i >= EXTRA_MAX_ITEMS:
                out[TRUNCATED] = len(value) - EXTRA_MAX_ITEMS
                break
            out[cut(clean_text(str(k)), 200)] = clean_json(v, depth + 1)
        return out
    if isinstance(value, list | tuple):
        items = [clean_json(v, depth + 1) for v in list(value)[:EXTRA_MAX_ITEMS]]
        if len(value) > EXTRA_MAX_ITEMS:
            items.append(TRUNCATED)
        return items
    if isinstance(value, datetime):
        return value.isoformat()
    return cut(clean_text(str(value)), EXTRA_STRING_MAX)


def _optional(value: Any, limit: int) -> str | None:
    if value is None:
        return None
    cleaned = cut(clean_text(str(value)), limit)
    return cleaned or None


def normalize_mention(
    mention: Mention, topic: str | None = None, *, default_topic: str | None = "default"
) -> Mention:
    """The storable form of `mention` (topic set, UTC time, every field within its column).

    The topic is `topic`, else the mention's own, else `default_topic` (None keeps it unset, for
    readers whose caller picks the topic later). Raises `Unstorable` when the mention cannot be
    stored at all (no usable time, platform or topic): the caller reports it and goes on.
    """
    platform = clean_text(str(mention.platform or ""))
    if not platform:
        raise Unstorable("'platform' is empty")
    if len(platform) > PLATFORM_MAX:
        raise Unstorable(f"'platform' is longer than {PLATFORM_MAX} characters")
    raw_topic = topic or mention.topic or default_topic
    name = None if raw_topic is None else clean_text(str(raw_topic))
    if name is not None and (not name or len(name) > TOPIC_MAX):
        raise Unstorable(f"'topic' must be 1–{TOPIC_MAX} characters")
    external_id = _identifier(str(mention.id if mention.id is not None else ""), EXTERNAL_ID_MAX)
    if not external_id:
        raise Unstorable("'id' is empty")
    text = mention.text if isinstance(mention.text, str) else str(mention.text or "")
    lang = clean_text(mention.lang) if isinstance(mention.lang, str) else None
    reply = _optional(mention.in_reply_to, 10**6)
    extra = clean_json(dict(mention.extra or {}))
    return replace(
        mention,
        platform=platform,
        id=external_id,
        topic=name,
        created_at=_time(mention.created_at),
        text=cut(clean_text(text, keep_lines=True), TEXT_MAX),
        url=_optional(mention.url, URL_MAX),
        author=_optional(mention.author, AUTHOR_MAX),
        author_followers=_count(mention.author_followers, INT32_MAX),
        lang=lang if lang and len(lang) <= LANG_MAX and _LANG.match(lang) else None,
        likes=_count(mention.likes, ENGAGEMENT_MAX) or 0,
        reposts=_count(mention.reposts, ENGAGEMENT_MAX) or 0,
        replies=_count(mention.replies, ENGAGEMENT_MAX) or 0,
        in_reply_to=_identifier(reply, IN_REPLY_TO_MAX) if reply else None,
        extra=extra if isinstance(extra, dict) else {},
    )


def split_storable(
    mentions: Iterable[Mention], topic: str | None = None
) -> tuple[list[Mention], list[Rejected]]:
    """Normalise each mention: (the storable ones, the refused ones with their reasons)."""
    good: list[Mention] = []
    rejected: list[Rejected] = []
    for m in mentions:
        try:
            good.append(normalize_mention(m, topic))
        except Unstorable as exc:
            platform, external_id = (
                cut(clean_text(str(m.platform)), 40),
                cut(clean_text(str(m.id)), 100),
            )
            rejected.append(Rejected(platform, external_id, str(exc)))
    return good, rejected


def storage_reason(exc: BaseException) -> str:
    """Why a row could not be stored, in one line and without the statement's parameters.

    A database error's `str()` quotes the SQL and every bound value (mention text, author),
    which must not reach a terminal, a log or Sentry; the driver's first line says enough
    ("value too long for type character varying(300)").
    """
    from sqlalchemy.exc import StatementError

    orig = exc.orig if isinstance(exc, StatementError) and exc.orig is not None else exc
    first = (str(orig).strip().splitlines() or [""])[0]
    return cut(clean_text(f"{type(orig).__name__}: {first}"), 300)
