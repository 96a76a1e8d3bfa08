"""A fake PagerDuty Events API v2 (`POST /v2/enqueue`) on loopback, and a signer for v3 webhooks,
by PagerDuty's contract: a JSON body with a 32-character `routing_key` of a known integration,
`event_action` trigger/acknowledge/resolve, `dedup_key` (required to acknowledge or resolve),
a trigger's `payload.summary`, `payload.source`, `payload.severity`; 202 `{"status": "success",
"message": "Event processed", "dedup_key": …}`; 400 `{"status": "invalid event", "message":
"Event object is invalid", "errors": [...]}`; 429 when throttled.

`incidents` follows what PagerDuty would do with the events: one per dedup_key, its status.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import Any

from tests.fakes.vendor import Answer, FakeVendor, Request

SEVERITIES = ("critical", "error", "warning", "info")


def invalid(*errors: str) -> Answer:
    return Answer.json(
        400,
        {"status": "invalid event", "message": "Event object is invalid", "errors": list(errors)},
    )


class PagerDutyFake(FakeVendor):
    def __init__(self, routing_key: str = "R0UT1NGKEY0123456789abcdefABCDEF") -> None:
        super().__init__()
        assert len(routing_key) == 32
        self.routing_key = routing_key
        self.events: list[dict[str, Any]] = []
        self.incidents: dict[str, str] = {}  # dedup_key → triggered/acknowledged/resolved

    def throttle(self, count: int = 1) -> None:
        self.fail_next(
            Answer.json(
                429,
                {
                    "status": "throttle event",
                    "message": "Requests for this service are arriving too quickly.  Please retry later.",
                },
            ),
            count,
        )

    def handle(self, req: Request) -> Answer:
        if req.method != "POST" or req.path != "/v2/enqueue":
            return Answer(404, b"Not Found")
        if not req.headers.get("content-type", "").startswith("application/json"):
            return invalid("Content-Type must be application/json")
        try:
            event = req.json()
        except ValueError:
            return Answer.json(400, {"status": "invalid request", "message": "Invalid JSON"})
        errors = []
        key = event.get("routing_key")
        if not isinstance(key, str) or len(key) != 32:
            errors.append("Length of 'routing_key' is incorrect (should be 32 characters)")
        elif key != self.routing_key:
            errors.append("Invalid routing key")
        action = event.get("event_action")
        if action not in ("trigger", "acknowledge", "resolve"):
            errors.append(
                "'event_action' is invalid (must be one of the following: 'trigger', 'acknowledge' or 'resolve')"
            )
        dedup = event.get("dedup_key")
        if action in ("acknowledge", "resolve") and not dedup:
            errors.append("'dedup_key' is missing or blank")
        if action == "trigger":
            payload = event.get("payload") or {}
            for field in ("summary", "source"):
                if not isinstance(payload.get(field), str) or not payload[field].strip():
                    errors.append(f"'payload.{field}' is missing or blank")
            if payload.get("severity") not in SEVERITIES:
                errors.append(
                    "'payload.severity' is invalid (must be one of the following: 'critical', 'warning', 'error' or 'info')"
                )
            if len(payload.get("summary") or "") > 1024:
                errors.append("'payload.summary' is too long (max 1024)")
        if errors:
            return invalid(*errors)
        dedup = dedup or uuid.uuid4().hex
        with self.lock:
            self.events.append(event)
            state = self.incidents.get(dedup)
            if action == "trigger" and state in (None, "resolved"):
                self.incidents[dedup] = "triggered"
            elif action == "acknowledge" and state == "triggered":
                self.incidents[dedup] = "acknowledged"
            elif action == "resolve" and state in ("triggered", "acknowledged"):
                self.incidents[dedup] = "resolved"
        return Answer.json(
            202, {"status": "success", "message": "Event processed", "dedup_key": dedup}
        )


def signed_webhook(
    secret: str, event_type: str, incident_key: str, agent: str = "Dana Ops"
) -> tuple[bytes, dict[str, str]]:
    """A v3 webhook delivery: `{"event": {...}}` signed `X-PagerDuty-Signature: v1=<hex HMAC-SHA256>`."""
    body = json.dumps(
        {
            "event": {
                "id": "01" + uuid.uuid4().hex[:24].upper(),
                "event_type": event_type,
                "resource_type": "incident",
                "occurred_at": "2026-12-02T03:00:00.000Z",
                "agent": {"id": "PUSER01", "summary": agent, "type": "user_reference"},
                "client": None,
                "data": {
                    "id": "Q0INCIDENT",
                    "type": "incident",
                    "number": 7,
                    "status": event_type.removeprefix("incident."),
                    "incident_key": incident_key,
                    "title": "tocsin page",
                },
            }
        }
    ).encode()
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return body, {"Content-Type": "application/json", "X-PagerDuty-Signature": f"v1={digest}"}
