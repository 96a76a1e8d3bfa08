"""`POST /integrations/pagerduty`: PagerDuty's v3 webhook; an `incident.acknowledged` there
acknowledges ours, `via = "pagerduty"`.

1. Verify `X-PagerDuty-Signature` (`v1=<hex HMAC-SHA256 of the body>`, several during a secret
   rotation, compared in constant time) with each PagerDuty channel's `webhook_secret_env`:
   no match → 401, nothing changes. (PagerDuty ships no verifier library; this is their recipe.)
2. The incident's `incident_key` is the dedup_key we sent (`tocsin-<id>-<opening time>`): it
   names our incident, and the opening time must match, so a key from before a database reset
   acknowledges nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from alerts.channels.pagerduty import parse_dedup_key
from alerts.channels.registry import configured
from alerts.channels.render import one_line
from alerts.integrations import MAX_BODY, Context
from alerts.service import acknowledge
from worker.storage.models import Incident

log = logging.getLogger("tocsin.integrations.pagerduty")


def verified(secrets: list[str], body: bytes, header: str) -> bool:
    given = [
        p.strip().removeprefix("v1=") for p in header.split(",") if p.strip().startswith("v1=")
    ]
    for secret in secrets:
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if any(hmac.compare_digest(expected, g) for g in given):
            return True
    return False


def routes(ctx: Context) -> APIRouter:
    router = APIRouter()

    @router.post("/integrations/pagerduty")
    async def webhook(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"error": "too large"}, status_code=413)
        rt, now = ctx.runtime(), ctx.clock()
        secrets = [
            s
            for _, o in configured(rt.config, "pagerduty")
            if o.webhook_secret_env and (s := os.environ.get(o.webhook_secret_env))
        ]
        if not secrets:
            return JSONResponse(
                {"error": "no PagerDuty webhook secret configured"}, status_code=403
            )
        if not verified(secrets, body, request.headers.get("x-pagerduty-signature", "")):
            log.warning("pagerduty: refused a webhook with a bad signature")
            return JSONResponse({"error": "bad signature"}, status_code=401)
        try:
            event = json.loads(body)["event"]
            kind = str(event.get("event_type", ""))
            data = event.get("data") or {}
            key = str(data.get("incident_key") or "")
        except (KeyError, ValueError, TypeError, AttributeError):
            return JSONResponse({"error": "not a v3 webhook event"}, status_code=400)
        if kind != "incident.acknowledged":
            return Response(status_code=200)
        parsed = parse_dedup_key(key)
        if parsed is None:
            return Response(status_code=200)  # an incident that did not come from tocsin
        incident_id, opened = parsed
        agent = one_line((event.get("agent") or {}).get("summary") or "someone", 100)
        with rt.sessions.begin() as session:
            inc = session.get(Incident, incident_id)
            if inc is None or int(inc.opened_at.timestamp()) != opened:
                return Response(status_code=200)
            result = acknowledge(
                session, incident_id, by=f"{agent} (PagerDuty)"[:200], via="pagerduty", now=now
            )
        log.info("pagerduty: incident %s acknowledged there: %s", incident_id, result)
        return Response(status_code=200)

    return router
