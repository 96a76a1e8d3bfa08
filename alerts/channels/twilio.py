"""SMS through Twilio's Messages API: `POST /2010-04-01/Accounts/{sid}/Messages.json`, HTTP basic
auth (account sid, auth token), form-encoded `To`, `From`, `Body`. Replies come back signed to
`POST /integrations/twilio/sms` (alerts.integrations.twilio): `ACK`, `ACK <id>` or `1`.

    [channels.sms]
    type = "twilio"
    api_url = "https://api.twilio.com"   # the default
    account_sid_env = "TWILIO_ACCOUNT_SID"
    auth_token_env = "TWILIO_AUTH_TOKEN"
    from = "+15005550006"

A message is at most 320 characters (two segments) and ends with the signed link to the packet.
Twilio's 4xx errors (21211 a bad 'To' number, 20003 refused credentials) are permanent; 429 and
5xx are retried.
"""

from __future__ import annotations

import os
import re
from typing import Any

import httpx
from pydantic import Field

from alerts.channels import http
from alerts.channels.base import OutgoingMessage, Receipt, TransportError
from alerts.channels.registry import BuildContext, ChannelType, Options
from alerts.channels.render import one_line
from worker.config import Person

MAX_SMS = 320


class TwilioOptions(Options):
    api_url: str = Field(default="https://api.twilio.com", pattern=r"^https?://[^/\s]+/?$")
    account_sid_env: str = Field(min_length=1)
    auth_token_env: str = Field(min_length=1)
    sender: str = Field(alias="from", pattern=r"^\+?[0-9][0-9 ().-]{3,30}$")


def e164(phone: str) -> str:
    """A phone number as Twilio writes it: `+` and digits, no spaces or punctuation."""
    digits = re.sub(r"[^\d+]", "", phone)
    return digits if digits.startswith("+") else f"+{digits}"


def sms_text(message: OutgoingMessage) -> str:
    """At most MAX_SMS characters, the reply instruction and the packet link always kept whole."""
    b = message.body
    if not message.incident_id:
        return one_line(f"tocsin: {message.subject}", MAX_SMS)
    tail = f" Reply ACK {message.incident_id} to acknowledge."
    if b.get("packet_url"):
        tail += f" {b['packet_url']}"
    why = (b.get("explanations") or [""])[0]
    head = one_line(f"tocsin SEV{b.get('severity', '?')}: {b.get('title', message.subject)}. {why}")
    room = MAX_SMS - len(tail)
    return (one_line(head, room) if room > 20 else one_line(head, 20)) + tail


class TwilioChannel:
    def __init__(
        self, name: str, options: TwilioOptions, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.name = name
        self.options = options
        self.base = options.api_url.rstrip("/")
        self.transport = transport

    def _credentials(self) -> tuple[str, str]:
        sid = os.environ.get(self.options.account_sid_env)
        token = os.environ.get(self.options.auth_token_env)
        if not sid or not token:
            missing = self.options.account_sid_env if not sid else self.options.auth_token_env
            raise TransportError(f"twilio: ${missing} is not set", permanent=True)
        return sid, token

    def send(self, message: OutgoingMessage) -> Receipt | None:
        if message.action not in ("page", "test"):
            return None  # a text message cannot be edited
        sid, token = self._credentials()
        form = {
            "To": e164(message.address),
            "From": e164(self.options.sender),
            "Body": sms_text(message),
        }
        with http.client(self.transport) as client:
            r = http.post(
                client,
                f"{self.base}/2010-04-01/Accounts/{sid}/Messages.json",
                "twilio",
                data=form,
                auth=(sid, token),
                # Twilio has no idempotency key for Messages; the header lets a proxy or a
                # receiver log spot a redelivery of the same notification.
                headers={"X-Tocsin-Notification-Id": message.uid},
            )
        data: dict[str, Any] = http.json_or_empty(r)
        http.check(r, "twilio", f"{data.get('code', '')} {data.get('message', '')}".strip())
        return {"sid": data.get("sid")}


def _build(name: str, options: TwilioOptions, ctx: BuildContext) -> TwilioChannel:
    return TwilioChannel(name, options, transport=ctx.transport)


def _address(person: Person, options: TwilioOptions) -> str | None:
    return e164(person.phone) if person.phone else None


CHANNEL = ChannelType(
    "twilio",
    TwilioOptions,
    _build,
    _address,
    contact="phone",
    routes="alerts.integrations.twilio:routes",
)
