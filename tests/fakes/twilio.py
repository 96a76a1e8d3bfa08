"""A fake Twilio Messages API on loopback, and a signer for inbound SMS webhooks, by Twilio's
contract: `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, HTTP basic auth (account sid,
auth token), form-encoded `To`, `From`, `Body`; 201 with the message resource; errors as JSON
`{code, message, more_info, status}` (20003 Authenticate, 21211 invalid 'To', 21602 no body,
21604 no 'To', 21606 'From' not ours, 21617 over 1600 characters, 20429 too many requests).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import re
from typing import Any
from urllib.parse import urlencode

from tests.fakes.vendor import Answer, FakeVendor, Request

_PATH = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-f]{32})/Messages\.json$")
_E164 = re.compile(r"^\+[1-9]\d{1,14}$")


def twilio_error(
    status: int, code: int, message: str, headers: dict[str, str] | None = None
) -> Answer:
    return Answer.json(
        status,
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        headers,
    )


class TwilioFake(FakeVendor):
    def __init__(
        self,
        sid: str = "AC" + "0" * 31 + "1",
        token: str = "twilio-auth-token",
        number: str = "+15005550006",
    ) -> None:
        super().__init__()
        self.sid, self.token, self.number = sid, token, number
        self.sent: list[dict[str, str]] = []
        self._n = itertools.count(1)

    def too_many(self, count: int = 1) -> None:
        self.fail_next(twilio_error(429, 20429, "Too Many Requests", {"Retry-After": "1"}), count)

    def handle(self, req: Request) -> Answer:
        m = _PATH.match(req.path)
        if req.method != "POST" or not m:
            return twilio_error(404, 20404, "The requested resource was not found")
        auth = req.headers.get("authorization", "")
        expected = "Basic " + base64.b64encode(f"{self.sid}:{self.token}".encode()).decode()
        if m.group(1) != self.sid or not hmac.compare_digest(auth, expected):
            return twilio_error(401, 20003, "Authenticate")
        form = (
            req.form()
            if req.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
            else {}
        )
        to, sender, body = form.get("To", ""), form.get("From", ""), form.get("Body", "")
        if not to:
            return twilio_error(400, 21604, "A 'To' phone number is required.")
        if not _E164.match(to):
            return twilio_error(400, 21211, f"Invalid 'To' Phone Number: {to[:20]}")
        if sender != self.number:
            return twilio_error(
                400,
                21606,
                "The From phone number is not a valid, SMS-capable inbound phone number or short code for your account.",
            )
        if not body:
            return twilio_error(400, 21602, "Message body is required.")
        if len(body) > 1600:
            return twilio_error(
                400, 21617, "The concatenated message body exceeds the 1600 character limit."
            )
        sid = f"SM{next(self._n):032x}"
        with self.lock:
            self.sent.append({"sid": sid, "To": to, "From": sender, "Body": body})
        resource: dict[str, Any] = {
            "sid": sid,
            "account_sid": self.sid,
            "to": to,
            "from": sender,
            "body": body,
            "status": "queued",
            "num_segments": str(1 + (len(body) - 1) // 153),
            "direction": "outbound-api",
        }
        return Answer.json(201, resource)


def signed_reply(
    url: str, token: str, sender: str, body: str, to: str = "+15005550006"
) -> tuple[bytes, dict[str, str]]:
    """What Twilio POSTs to the SMS webhook when `sender` texts `body`: form parameters, signed
    X-Twilio-Signature = base64(HMAC-SHA1(token, url + each sorted key and its value))."""
    params = {
        "ToCountry": "US",
        "SmsMessageSid": "SM" + "a" * 32,
        "NumMedia": "0",
        "SmsSid": "SM" + "a" * 32,
        "Body": body,
        "To": to,
        "From": sender,
        "AccountSid": "AC" + "0" * 31 + "1",
        "ApiVersion": "2010-04-01",
    }
    signed = url + "".join(k + params[k] for k in sorted(params))
    signature = base64.b64encode(
        hmac.new(token.encode(), signed.encode(), hashlib.sha1).digest()
    ).decode()
    return urlencode(params).encode(), {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": signature,
    }
