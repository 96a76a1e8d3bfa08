"""`POST /integrations/slack/interactions`: a press on a page's Acknowledge button.

1. Verify `X-Slack-Signature` (v0 HMAC-SHA256 over `v0:timestamp:body`, the timestamp within five
   minutes of now, a constant-time compare) with slack_sdk's SignatureVerifier, against the
   signing secret of each configured Slack channel: no match → 401, nothing changes.
2. Read the `payload` form field (block_actions); a press other than Acknowledge is ignored.
3. The person whose `slack_user_id` pressed it acknowledges, `via = "slack"`; a press from a user
   tocsin does not know is refused (403) and logged. The message's buttons are then replaced with
   "Acknowledged by Alice" by the outbox (chat.update, alerts.outbox.plan_follow_ups).
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from slack_sdk.signature import Clock, SignatureVerifier

from alerts.channels.registry import configured
from alerts.channels.slack import ACK_ACTION
from alerts.integrations import MAX_BODY, Context
from alerts.service import acknowledge

log = logging.getLogger("tocsin.integrations.slack")


class _At(Clock):
    """slack_sdk's clock, set to the `now` the web app passes (time is an argument)."""

    def __init__(self, ts: float) -> None:
        self.ts = ts

    def now(self) -> float:
        return self.ts


def verified(secrets: list[str], body: bytes, headers: Any, now: float) -> bool:
    timestamp = headers.get("x-slack-request-timestamp")
    signature = headers.get("x-slack-signature")
    if not timestamp or not signature or not timestamp.isdigit():
        return False
    return any(
        SignatureVerifier(secret, clock=_At(now)).is_valid(body, timestamp, signature)
        for secret in secrets
    )


def routes(ctx: Context) -> APIRouter:
    router = APIRouter()

    @router.post("/integrations/slack/interactions")
    async def interactions(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"error": "too large"}, status_code=413)
        rt, now = ctx.runtime(), ctx.clock()
        secrets = [
            s
            for _, o in configured(rt.config, "slack")
            if (s := os.environ.get(o.signing_secret_env))
        ]
        if not secrets:
            return JSONResponse(
                {"error": "no Slack channel with a signing secret"}, status_code=403
            )
        if not verified(secrets, body, request.headers, now.timestamp()):
            log.warning("slack: refused a request with a bad or stale signature")
            return JSONResponse({"error": "bad signature"}, status_code=401)
        try:
            payload = json.loads(parse_qs(body.decode("utf-8"))["payload"][0])
            user = str(payload["user"]["id"])
            actions = payload.get("actions") or []
        except (KeyError, IndexError, ValueError, TypeError, UnicodeDecodeError):
            return JSONResponse({"error": "not a Slack interaction payload"}, status_code=400)
        press = next((a for a in actions if a.get("action_id") == ACK_ACTION), None)
        if payload.get("type") != "block_actions" or press is None:
            return Response(status_code=200)  # "Open packet" is a link: nothing to do here
        try:
            incident_id = int(press.get("value", ""))
        except ValueError:
            return JSONResponse({"error": "bad incident id"}, status_code=400)
        person = next((p for p in rt.config.people.values() if p.slack_user_id == user), None)
        if person is None:
            log.warning(
                "slack: refused a press on incident %s by unknown user %s", incident_id, user[:40]
            )
            return JSONResponse({"error": "unknown Slack user"}, status_code=403)
        with rt.sessions.begin() as session:
            result = acknowledge(session, incident_id, by=person.id, via="slack", now=now)
        log.info("slack: incident %s press by %s: %s", incident_id, person.id, result)
        return Response(status_code=200)

    return router
