"""A JSON webhook (POST with httpx): 2xx delivered, 4xx permanent except 408/429, 5xx retried."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from alerts.channels.base import OutgoingMessage, TransportError


class WebhookChannel:
    def __init__(
        self,
        name: str,
        options: Mapping[str, Any],
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.name = name
        self.url = str(options["url"])
        self.transport = transport
        self.timeout = timeout

    def send(self, message: OutgoingMessage) -> None:
        payload = {
            "subject": message.subject,
            "recipient": message.recipient,
            "role": message.role,
            **message.body,
        }
        try:
            with httpx.Client(transport=self.transport, timeout=self.timeout) as client:
                r = client.post(self.url, json=payload)
        except httpx.HTTPError as exc:
            raise TransportError(f"webhook {self.url}: {exc.__class__.__name__}") from exc
        if r.status_code >= 400:
            permanent = r.status_code < 500 and r.status_code not in (408, 429)
            raise TransportError(f"webhook {self.url}: HTTP {r.status_code}", permanent=permanent)
