"""The one httpx client factory for platform APIs, and HTTP helpers shared by connectors."""

from __future__ import annotations

from datetime import datetime
from email.utils import parsedate_to_datetime

import httpx

from worker.sources.base import SourceError

try:
    from importlib.metadata import version

    _VERSION = version("tocsin")
except Exception:  # pragma: no cover - running from a source tree without metadata
    _VERSION = "0"

USER_AGENT = f"tocsin/{_VERSION} (+https://github.com/tocsin/tocsin)"


def make_client(
    *,
    transport: httpx.BaseTransport | None = None,
    timeout: float = 10.0,
    user_agent: str = USER_AGENT,
) -> httpx.Client:
    """A client with explicit timeouts and our User-Agent. Redirects are followed by connectors
    themselves, so a permanent move (301) can update the stored feed URL."""
    return httpx.Client(
        transport=transport,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        headers={"User-Agent": user_agent},
        follow_redirects=False,
    )


def retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - now).total_seconds())


def raise_for_status(response: httpx.Response, now: datetime, what: str) -> None:
    """Map an error status to SourceError: 401/403/404/410 permanent, 429/5xx transient."""
    status = response.status_code
    if status < 400:
        return
    wait = retry_after(response.headers.get("Retry-After"), now)
    permanent = status in (400, 401, 403, 404, 410, 422)
    raise SourceError(
        f"{what}: HTTP {status}", permanent=permanent, status=status, retry_after_s=wait
    )


def get(client: httpx.Client, url: str, headers: dict[str, str], what: str) -> httpx.Response:
    """GET that turns network failures into transient SourceErrors."""
    try:
        return client.get(url, headers=headers)
    except httpx.TimeoutException as exc:
        raise SourceError(f"{what}: timed out ({exc.__class__.__name__})") from exc
    except httpx.HTTPError as exc:
        raise SourceError(f"{what}: {exc.__class__.__name__}: {exc}") from exc
