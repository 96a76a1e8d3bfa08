"""Each platform's rate-limit headers, read into one `RateLimit` (platforms.md, "Cross-platform").

The formats differ and this is where connectors break most often:

| platform | headers | reset means |
|---|---|---|
| Mastodon | X-RateLimit-Limit/-Remaining/-Reset | ISO 8601 time (with microseconds); some servers an epoch |
| Bluesky | RateLimit-Limit/-Remaining/-Reset/-Policy | Unix seconds |
| X | x-rate-limit-limit/-remaining/-reset | Unix seconds |
| Reddit | X-Ratelimit-Used/-Remaining (a float)/-Reset | seconds until the window ends |

An absolute reset time is read against the server's own `Date` header (as Mastodon.py does), so
a server whose clock is off, or a caller whose `now` is simulated, still waits the right amount.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from worker.model import RateLimit
from worker.sources.http import retry_after


def _int(value: str | None) -> int | None:
    if value is None or value.strip() == "":
        return None
    try:
        return int(float(value.strip()))
    except ValueError:
        return None


def _server_now(headers: Mapping[str, str]) -> datetime | None:
    date = headers.get("date")
    if not date:
        return None
    try:
        return parsedate_to_datetime(date).astimezone(UTC)
    except (TypeError, ValueError):
        return None


def _absolute(reset: datetime, headers: Mapping[str, str], now: datetime) -> datetime:
    server = _server_now(headers)
    when = now + (reset - server) if server is not None else reset
    return max(when, now)


def _parse_reset_time(value: str | None) -> datetime | None:
    """An ISO 8601 time or Unix seconds (Mastodon servers send either)."""
    if not value:
        return None
    value = value.strip()
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def mastodon(headers: Mapping[str, str], now: datetime) -> RateLimit | None:
    h = _lower(headers)
    return _absolute_style(h, now, "x-ratelimit-")


def bluesky(headers: Mapping[str, str], now: datetime) -> RateLimit | None:
    return _absolute_style(_lower(headers), now, "ratelimit-")


def x(headers: Mapping[str, str], now: datetime) -> RateLimit | None:
    return _absolute_style(_lower(headers), now, "x-rate-limit-")


def _absolute_style(h: dict[str, str], now: datetime, prefix: str) -> RateLimit | None:
    limit, remaining = _int(h.get(prefix + "limit")), _int(h.get(prefix + "remaining"))
    reset = _parse_reset_time(h.get(prefix + "reset"))
    wait = retry_after(h.get("retry-after"), now)
    if limit is None and remaining is None and reset is None and wait is None:
        return None
    return RateLimit(
        limit=limit,
        remaining=remaining,
        reset_at=_absolute(reset, h, now) if reset else None,
        retry_after_s=wait,
    )


def reddit(headers: Mapping[str, str], now: datetime) -> RateLimit | None:
    h = _lower(headers)
    used, remaining = _int(h.get("x-ratelimit-used")), _int(h.get("x-ratelimit-remaining"))
    reset_s = _int(h.get("x-ratelimit-reset"))
    wait = retry_after(h.get("retry-after"), now)
    if used is None and remaining is None and reset_s is None and wait is None:
        return None
    return RateLimit(
        limit=(used + remaining) if used is not None and remaining is not None else None,
        remaining=remaining,
        reset_at=now + timedelta(seconds=reset_s) if reset_s is not None else None,
        retry_after_s=wait,
    )


def plain(headers: Mapping[str, str], now: datetime) -> RateLimit | None:
    """Platforms without rate-limit headers: only a Retry-After, if any."""
    wait = retry_after(_lower(headers).get("retry-after"), now)
    return RateLimit(retry_after_s=wait) if wait is not None else None


def reset_time(rl: RateLimit | None, now: datetime) -> datetime | None:
    """When the refused budget comes back: the reset time, else now + Retry-After."""
    if rl is None:
        return None
    if rl.reset_at is not None:
        return rl.reset_at
    if rl.retry_after_s is not None:
        return now + timedelta(seconds=rl.retry_after_s)
    return None
