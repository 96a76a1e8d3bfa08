"""`POST /integrations/twilio/sms`: a text message replying to a page.

1. Verify `X-Twilio-Signature` (HMAC-SHA1 of the full URL under TOCSIN_BASE_URL plus the sorted
   form parameters) with twilio's RequestValidator, against each Twilio channel's auth token:
   no match → 403, nothing changes.
2. Find the person by the sender's phone number; an unknown number gets an empty reply.
3. `ACK`, `ACK <id>` or `1` acknowledges that person's newest unacknowledged incident (or the
   named one), `via = "sms"`; anything else gets a short help reply (TwiML).
"""

from __future__ import annotations

import logging
import os
import re
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response
from sqlalchemy import select
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from alerts.channels.registry import configured
from alerts.channels.twilio import e164
from alerts.integrations import MAX_BODY, Context
from alerts.service import AckResult, acknowledge
from worker.storage.models import Incident, Notification

log = logging.getLogger("tocsin.integrations.twilio")
PATH = "/integrations/twilio/sms"
_REPLY = re.compile(r"^\s*(?:ack|1)(?:\s+#?(\d{1,12}))?\s*[.!]?\s*$", re.IGNORECASE)
HELP = "tocsin: reply ACK to acknowledge your newest page, or ACK <id> for one incident."


def twiml(text: str | None) -> Response:
    reply = MessagingResponse()
    if text:
        reply.message(text)
    return Response(str(reply), media_type="application/xml")


def routes(ctx: Context) -> APIRouter:
    router = APIRouter()

    @router.post(PATH)
    async def sms(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY:
            return Response("too large", status_code=413)
        rt, now = ctx.runtime(), ctx.clock()
        try:
            params = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            return Response("bad form", status_code=400)
        # Twilio signs the URL it called: ours as the public sees it, under TOCSIN_BASE_URL.
        url = rt.settings.base_url + PATH + (f"?{request.url.query}" if request.url.query else "")
        signature = request.headers.get("x-twilio-signature", "")
        tokens = [
            t for _, o in configured(rt.config, "twilio") if (t := os.environ.get(o.auth_token_env))
        ]
        if not signature or not any(
            RequestValidator(t).validate(url, params, signature) for t in tokens
        ):
            log.warning("twilio: refused a request with a bad signature")
            return Response("bad signature", status_code=403)
        sender = e164(params.get("From", "")) if params.get("From") else ""
        person = next(
            (p for p in rt.config.people.values() if p.phone and e164(p.phone) == sender), None
        )
        if person is None:
            log.warning("twilio: reply from an unknown number ending %s", sender[-4:])
            return twiml(None)
        m = _REPLY.match(params.get("Body", "")[:200])
        if m is None:
            return twiml(HELP)
        with rt.sessions.begin() as session:
            if m.group(1):
                incident_id: int | None = int(m.group(1))
            else:
                incident_id = session.scalar(
                    select(Incident.id)
                    .join(Notification, Notification.incident_id == Incident.id)
                    .where(
                        Notification.recipient == person.id,
                        Incident.state.in_(["triggered", "snoozed"]),
                    )
                    .order_by(Incident.opened_at.desc(), Incident.id.desc())
                    .limit(1)
                )
            if incident_id is None:
                return twiml("tocsin: nothing waiting for your acknowledgement.")
            result = acknowledge(session, incident_id, by=person.id, via="sms", now=now)
        log.info("twilio: incident %s reply by %s: %s", incident_id, person.id, result)
        texts = {
            AckResult.ACKNOWLEDGED: f"tocsin: incident {incident_id} acknowledged. Escalation stopped.",
            AckResult.ALREADY_ACKNOWLEDGED: f"tocsin: incident {incident_id} was already acknowledged.",
            AckResult.RESOLVED: f"tocsin: incident {incident_id} is already resolved.",
            AckResult.NOT_FOUND: f"tocsin: no incident {incident_id}.",
        }
        return twiml(texts.get(result, HELP))

    return router
