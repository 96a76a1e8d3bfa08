"""Small helpers the platform connectors share: times, counts, the newest-first paging cursor."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from worker.sources.base import PayloadError

#: The first poll of a new query fetches at least this far back (the baseline).
BASELINE = timedelta(days=3)
#: Ids remembered at the top of a newest-first source, to stop paging where the last poll ended.
KNOWN_MAX = 300


def parse_time(value: Any, what: str) -> datetime:
    """An ISO 8601 time (`Z` accepted) or Unix seconds, as aware UTC; else a PayloadError."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), UTC)
    if not isinstance(value, str) or not value:
        raise PayloadError(f"{what}: missing or invalid time {value!r}")
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise PayloadError(f"{what}: not an ISO 8601 time: {value[:40]!r}") from None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)


def count(value: Any) -> int:
    """An engagement count as the platform reports it (strings of digits too); else 0."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(value, 0)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, float):
        return max(int(value), 0)
    return 0


def iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


class NewestFirst:
    """The cursor of a source read newest first, paged backwards, with no `since_id`.

    At rest: `{"known": [ids at the top], "mark": ISO time of the newest item}`. While paging:
    `{"paging": {"token": …, "known": [...], "mark": …}, ...}` where the paging part holds what
    the top will be once the last page is stored. Paging stops at an id already known, at an item
    older than the mark (minus `overlap`) or when the platform has no next page; only then does
    the top move. A failure between pages leaves the paging part in the stored cursor, so the
    next poll goes on from the page it could not fetch.
    """

    def __init__(self, cursor: Mapping[str, Any], now: datetime, overlap: timedelta) -> None:
        self.cursor = dict(cursor)
        self.paging: dict[str, Any] = dict(self.cursor.get("paging") or {})
        self.known = set(self.cursor.get("known") or [])
        mark = self.cursor.get("mark")
        self.since = (
            datetime.fromisoformat(mark.replace("Z", "+00:00")) - overlap
            if isinstance(mark, str)
            else now - BASELINE
        )

    @property
    def token(self) -> Any:
        return self.paging.get("token")

    @property
    def first_page(self) -> bool:
        return not self.paging

    def take(self, items: Iterable[tuple[str, datetime, Any]]) -> tuple[list[Any], bool]:
        """Keep the items of this page that are new; say whether the end was reached."""
        kept, reached = [], False
        top_ids: list[str] = list(self.paging.get("known") or [])
        top_mark = self.paging.get("mark")
        for item_id, when, item in items:
            if item_id in self.known or when < self.since:
                reached = True
                continue
            kept.append(item)
            if len(top_ids) < KNOWN_MAX:
                top_ids.append(item_id)
            if top_mark is None or when > datetime.fromisoformat(top_mark.replace("Z", "+00:00")):
                top_mark = iso(when)
        self.paging["known"] = top_ids
        if top_mark is not None:
            self.paging["mark"] = top_mark
        return kept, reached

    def next_cursor(self, next_token: Any, reached: bool) -> tuple[dict[str, Any], bool]:
        """The cursor to store with this page, and whether another page waits."""
        out = dict(self.cursor)
        if next_token and not reached:
            out["paging"] = {**self.paging, "token": next_token}
            return out, True
        out.pop("paging", None)
        new_top = list(self.paging.get("known") or [])
        # Keep the previous top too: with an overlap, the same items come back next time.
        out["known"] = (new_top + [k for k in self.cursor.get("known") or [] if k not in new_top])[
            :KNOWN_MAX
        ]
        if self.paging.get("mark"):
            out["mark"] = self.paging["mark"]
        return out, False


def obj(value: Any) -> dict[str, Any]:
    """`value` if it is a JSON object, else an empty one (optional sub-objects of a payload)."""
    return value if isinstance(value, dict) else {}
