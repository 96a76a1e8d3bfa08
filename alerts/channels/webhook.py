"""A JSON webhook, signed per Standard Webhooks (standardwebhooks.com).

Headers `webhook-id` (the notification's stable id: the same on a redelivery after a crash, so the
receiver can drop the copy), `webhook-timestamp` (Unix seconds) and `webhook-signature:
v1,<base64 HMAC-SHA256 of "id.timestamp.body">` with the key decoded from `whsec_<base64>` in
`secret_env`. The payload carries the same id as `notification_id`. 2xx delivered; 429/5xx
retried after `Retry-After`; other 4xx permanent.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import Field
from standardwebhooks import Webhook

from alerts.channels import http
from alerts.channels.base import OutgoingMessage, TransportError
from alerts.channels.registry import BuildContext, ChannelType, Options
from alerts.channels.render import one_line
from worker.config import Person


class WebhookOptions(Options):
    url: str = Field(pattern=r"^https?://\S+$")
    #: Environment variable holding `whsec_<base64>`; without it the webhook is not signed.
    secret_env: str | None = None


class WebhookChannel:
    def __init__(
        self,
        name: str,
        options: WebhookOptions | Mapping[str, Any],
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
        clock: Any = None,
    ) -> None:
        opts = (
            options
            if isinstance(options, WebhookOptions)
            else WebhookOptions.model_validate(options)
        )
        self.name = name
        self.url = opts.url
        self.secret_env = opts.secret_env
        self.transport = transport
        self.clock = clock or (lambda: datetime.now(UTC))

    def payload(self, message: OutgoingMessage) -> dict[str, Any]:
        return {
            "notification_id": message.uid or str(message.notification_id),
            "type": f"incident.{message.action}" if message.incident_id else "test",
            "subject": one_line(message.subject),
            "recipient": message.recipient,
            "role": message.role,
            **message.body,
        }

    def headers(self, message: OutgoingMessage, body: str) -> dict[str, str]:
        msg_id = message.uid or f"ntf_{message.notification_id}"
        headers = {"content-type": "application/json", "webhook-id": msg_id}
        if self.secret_env:
            secret = os.environ.get(self.secret_env)
            if not secret:
                raise TransportError(f"webhook: ${self.secret_env} is not set", permanent=True)
            try:
                signer = Webhook(secret)
            except Exception as exc:
                raise TransportError(
                    f"webhook: ${self.secret_env} is not a whsec_<base64> secret", permanent=True
                ) from exc
            # Signed at send time: a retry is a new signature over the same id and body.
            at = self.clock()
            headers["webhook-timestamp"] = str(int(at.timestamp()))
            headers["webhook-signature"] = signer.sign(msg_id, at, body)
        return headers

    def send(self, message: OutgoingMessage) -> None:
        body = json.dumps(self.payload(message), ensure_ascii=False, separators=(",", ":"))
        headers = self.headers(message, body)
        with http.client(self.transport) as client:
            r = http.post(client, self.url, "webhook", content=body.encode(), headers=headers)
        http.check(r, "webhook")


def _build(name: str, options: WebhookOptions, ctx: BuildContext) -> WebhookChannel:
    return WebhookChannel(name, options, transport=ctx.transport)


def _address(person: Person, options: WebhookOptions) -> str:
    return options.url


CHANNEL = ChannelType("webhook", WebhookOptions, _build, _address)
