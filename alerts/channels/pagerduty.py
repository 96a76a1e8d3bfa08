"""PagerDuty, for teams that already use it: Events API v2 (`POST /v2/enqueue`) `trigger`, then
`acknowledge` and `resolve` with the same `dedup_key` — one per incident — so the PagerDuty
incident follows ours. An acknowledgement made in PagerDuty comes back through its v3 webhook
`POST /integrations/pagerduty` (alerts.integrations.pagerduty).

    [channels.pagerduty]
    type = "pagerduty"
    api_url = "https://events.pagerduty.com"   # the default
    routing_key_env = "PAGERDUTY_ROUTING_KEY"  # the integration key of a service (32 characters)
    webhook_secret_env = "PAGERDUTY_WEBHOOK_SECRET"   # optional: the v3 webhook signing secret

The dedup_key (`tocsin-<incident id>-<opening time>`) is PagerDuty's own idempotency key: a
trigger sent twice after a crash is one alert there.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from typing import Any

import httpx
from pydantic import Field

from alerts.channels import http
from alerts.channels.base import (
    ACKNOWLEDGED,
    RESOLVED,
    TEST,
    OutgoingMessage,
    Receipt,
    TransportError,
)
from alerts.channels.registry import BuildContext, ChannelType, Options
from alerts.channels.render import one_line
from worker.config import Person

SEVERITY = {1: "critical", 2: "error", 3: "warning", 4: "info"}
_DEDUP = re.compile(r"^tocsin-(\d+)-(\d+)$")


class PagerDutyOptions(Options):
    api_url: str = Field(default="https://events.pagerduty.com", pattern=r"^https?://[^/\s]+/?$")
    routing_key_env: str = Field(min_length=1)
    webhook_secret_env: str | None = Field(default=None, min_length=1)


def dedup_key(incident_id: int, opened_at: str) -> str:
    """One key per incident; the opening time keeps it unique across a database reset."""
    return f"tocsin-{incident_id}-{int(datetime.fromisoformat(opened_at).timestamp())}"


def parse_dedup_key(key: str) -> tuple[int, int] | None:
    """(incident id, opening time in Unix seconds) from a key `dedup_key` made, else None."""
    m = _DEDUP.match(key or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


class PagerDutyChannel:
    def __init__(
        self, name: str, options: PagerDutyOptions, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.name = name
        self.options = options
        self.url = options.api_url.rstrip("/") + "/v2/enqueue"
        self.transport = transport

    def _event(self, client: httpx.Client, event: dict[str, Any]) -> dict[str, Any]:
        key = os.environ.get(self.options.routing_key_env)
        if not key:
            raise TransportError(
                f"pagerduty: ${self.options.routing_key_env} is not set", permanent=True
            )
        r = http.post(client, self.url, "pagerduty", json={"routing_key": key, **event})
        data = http.json_or_empty(r)
        detail = "; ".join(str(e) for e in data.get("errors", [])) or str(data.get("message", ""))
        http.check(r, f"pagerduty {event['event_action']}", detail)
        return data

    def trigger(self, message: OutgoingMessage, key: str) -> dict[str, Any]:
        b = message.body
        event: dict[str, Any] = {
            "event_action": "trigger",
            "dedup_key": key,
            "payload": {
                "summary": one_line(message.subject, 1024),
                "source": "tocsin",
                "severity": SEVERITY.get(int(b.get("severity") or 4), "info"),
                "component": one_line(b.get("topic", ""), 200) or None,
                "group": one_line(b.get("topic", ""), 200) or None,
                "class": ", ".join(b.get("kinds", [])) or None,
                "custom_details": {
                    "incident_id": message.incident_id,
                    "notification_id": message.uid,
                    "why": [one_line(e, 500) for e in b.get("explanations", [])[:3]],
                },
            },
            "client": "tocsin",
        }
        if b.get("opened_at"):
            event["payload"]["timestamp"] = b["opened_at"]
        if b.get("packet_url"):
            event["links"] = [{"href": b["packet_url"], "text": "Briefing packet"}]
        event["payload"] = {k: v for k, v in event["payload"].items() if v is not None}
        return event

    def send(self, message: OutgoingMessage) -> Receipt | None:
        with http.client(self.transport) as client:
            if message.action == TEST or not message.incident_id:
                key = f"tocsin-test-{message.uid}"
                self._event(client, self.trigger(message, key))
                # A test must not leave an open incident paging someone at PagerDuty.
                self._event(client, {"event_action": "resolve", "dedup_key": key})
                return {"dedup_key": key}
            key = dedup_key(message.incident_id, str(message.body.get("opened_at")))
            if message.action in (ACKNOWLEDGED, RESOLVED):
                action = "acknowledge" if message.action == ACKNOWLEDGED else "resolve"
                self._event(client, {"event_action": action, "dedup_key": key})
            else:
                self._event(client, self.trigger(message, key))
        return {"dedup_key": key}


def _build(name: str, options: PagerDutyOptions, ctx: BuildContext) -> PagerDutyChannel:
    return PagerDutyChannel(name, options, transport=ctx.transport)


def _address(person: Person, options: PagerDutyOptions) -> str:
    # PagerDuty pages whoever is on call in the service behind the routing key.
    return "pagerduty"


CHANNEL = ChannelType(
    "pagerduty",
    PagerDutyOptions,
    _build,
    _address,
    follow_up="incident",
    shared=True,
    routes="alerts.integrations.pagerduty:routes",
)
