"""A webhook receiver on loopback that does what a careful receiver of Standard Webhooks does,
with its own code: verify `webhook-signature` (v1, base64 HMAC-SHA256 of "id.timestamp.body" with
the key decoded from `whsec_<base64>`) and the timestamp (five minutes), answer 401 otherwise,
and drop a redelivery whose `webhook-id` it has already processed (counted in `duplicates`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from tests.fakes.vendor import Answer, FakeVendor, Request


class WebhookReceiver(FakeVendor):
    def __init__(self, secret: str | None = None) -> None:
        super().__init__()
        self.key = base64.b64decode(secret.removeprefix("whsec_")) if secret else None
        self.processed: dict[str, dict[str, Any]] = {}
        self.duplicates = 0

    def verify(self, req: Request) -> bool:
        if self.key is None:
            return True
        msg_id = req.headers.get("webhook-id", "")
        stamp = req.headers.get("webhook-timestamp", "")
        if not msg_id or not stamp.isdigit() or abs(time.time() - int(stamp)) > 300:
            return False
        expected = hmac.new(
            self.key, f"{msg_id}.{stamp}.".encode() + req.body, hashlib.sha256
        ).digest()
        for part in req.headers.get("webhook-signature", "").split(" "):
            version, _, sig = part.partition(",")
            if version == "v1" and hmac.compare_digest(base64.b64encode(expected).decode(), sig):
                return True
        return False

    def handle(self, req: Request) -> Answer:
        if not self.verify(req):
            return Answer(401, b"bad signature")
        msg_id = req.headers.get("webhook-id", "")
        with self.lock:
            if msg_id in self.processed:
                self.duplicates += 1
            else:
                self.processed[msg_id] = json.loads(req.body)
        return Answer(204)
