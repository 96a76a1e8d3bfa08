"""The one httpx client factory for platform APIs, and HTTP helpers shared by connectors."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from worker.model import RateLimit
from worker.sources.base import AUTH_FAILED, RATE_LIMITED, UNAVAILABLE, PayloadError, SourceError

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
    if when.tzinfo is None:  # "-0000" in the date: UTC, with no zone given
        when = when.replace(tzinfo=UTC)
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


def send(
    client: httpx.Client,
    method: str,
    url: str,
    what: str,
    **kwargs: Any,
) -> httpx.Response:
    """Any request, with network failures turned into transient `unavailable` SourceErrors."""
    try:
        return client.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise SourceError(f"{what}: timed out ({exc.__class__.__name__})") from exc
    except httpx.HTTPError as exc:
        raise SourceError(f"{what}: {exc.__class__.__name__}") from exc


def message_of(response: httpx.Response) -> str:
    """The platform's own error words, short: `error`/`message`/`detail` of a JSON body."""
    try:
        data = response.json()
    except ValueError:
        ctype = response.headers.get("content-type", "")
        return "an HTML page" if "html" in ctype else ""
    parts: list[str] = []
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):  # Google: {"error": {"message", "errors": [{"reason"}]}}
            reasons = [e.get("reason") for e in err.get("errors") or [] if isinstance(e, dict)]
            parts += [str(r) for r in reasons if r] or [str(err.get("status") or "")]
        elif err is not None:
            parts.append(str(err))
        for key in ("message", "detail", "title", "error_description"):
            if isinstance(data.get(key), str) and data[key] not in parts:
                parts.append(data[key])
    text = ": ".join(p for p in parts if p)
    return " ".join(text.split())[:200]


def fail(
    response: httpx.Response,
    what: str,
    rate_limit: RateLimit | None = None,
    *,
    auth_hint: str = "the credential was refused",
) -> SourceError:
    """The SourceError for an error answer: 401/403 auth_failed (permanent), 429 rate_limited,
    5xx and the rest unavailable. The detail quotes the platform's words, never our secrets."""
    status = response.status_code
    said = message_of(response)
    said = f" ({said})" if said else ""
    if status == 429:
        return SourceError(
            f"{what}: rate limited, HTTP 429{said}",
            status=status,
            health=RATE_LIMITED,
            rate_limit=rate_limit,
            retry_after_s=rate_limit.retry_after_s if rate_limit else None,
        )
    if status in (401, 403):
        return SourceError(
            f"{what}: HTTP {status}{said}: {auth_hint}",
            status=status,
            permanent=True,
            health=AUTH_FAILED,
        )
    return SourceError(
        f"{what}: HTTP {status}{said}",
        status=status,
        permanent=status in (400, 404, 410, 422),
        health=UNAVAILABLE,
        rate_limit=rate_limit,
    )


def json_body(response: httpx.Response, what: str) -> Any:
    """The parsed JSON of a 2xx answer, or a PayloadError saying why it is not JSON."""
    ctype = response.headers.get("content-type", "")
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError) as exc:
        kind = f" ({ctype.split(';')[0]})" if ctype else ""
        raise PayloadError(f"{what}: the answer is not JSON{kind}: {exc}") from None


def expect(condition: bool, what: str, reason: str) -> None:
    """A shape check on a platform's JSON: a clear bad_response naming what is wrong."""
    if not condition:
        raise PayloadError(f"{what}: unexpected answer: {reason}")


RateLimitReader = Callable[[Mapping[str, str], datetime], RateLimit | None]


def get(client: httpx.Client, url: str, headers: dict[str, str], what: str) -> httpx.Response:
    """GET that turns network failures into transient SourceErrors."""
    try:
        return client.get(url, headers=headers)
    except httpx.TimeoutException as exc:
        raise SourceError(f"{what}: timed out ({exc.__class__.__name__})") from exc
    except httpx.HTTPError as exc:
        raise SourceError(f"{what}: {exc.__class__.__name__}: {exc}") from exc
