"""One HTTP seam for every channel that speaks to a vendor's API: one client factory with explicit
timeouts and an injectable transport (tests), and one reading of what a status code means.

- 2xx: delivered.
- 429 and 5xx (and 408, 425): transient, retried with backoff, no sooner than `Retry-After`.
- other 4xx: permanent — a wrong token, a bad number or a malformed request will not succeed by
  trying again, so the outbox falls back to the person's next contact method at once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from alerts.channels.base import TransportError
from worker.sources.http import retry_after as parse_retry_after

#: Connect, read, write and pool timeouts. A send must end well inside the outbox lease (60 s).
TIMEOUT = httpx.Timeout(10.0)
TRANSIENT_4XX = frozenset({408, 425, 429})


def client(transport: httpx.BaseTransport | None = None) -> httpx.Client:
    return httpx.Client(transport=transport, timeout=TIMEOUT, follow_redirects=False)


def retry_after(response: httpx.Response, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP date), if any."""
    return parse_retry_after(response.headers.get("retry-after"), now or datetime.now(UTC))


def is_permanent(status: int) -> bool:
    return 400 <= status < 500 and status not in TRANSIENT_4XX


def check(response: httpx.Response, what: str, detail: str = "") -> None:
    """Raise the TransportError a non-2xx answer means; `detail` is the vendor's error text."""
    if response.is_success:
        return
    status = response.status_code
    raise TransportError(
        f"{what}: HTTP {status}" + (f" {detail}" if detail else ""),
        permanent=is_permanent(status),
        # Any answer worth retrying may say when (429, 503, but also a 502 from a proxy).
        retry_after=None if is_permanent(status) else retry_after(response),
    )


def json_or_empty(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def post(http: httpx.Client, url: str, what: str, **kwargs: Any) -> httpx.Response:
    """POST, turning a network failure into a transient TransportError (never the URL's secret
    path: a Teams or Slack webhook URL is a credential)."""
    try:
        return http.post(url, **kwargs)
    except httpx.HTTPError as exc:
        raise TransportError(f"{what}: {exc.__class__.__name__}") from exc
