"""A fake Power Automate Workflows webhook ("When a Teams webhook request is received") on
loopback: the URL's `sig` is the credential (401 DirectApiAuthorizationRequired without it),
the body must be JSON `{"type": "message", "attachments": [{"contentType":
"application/vnd.microsoft.card.adaptive", "content": {"type": "AdaptiveCard", "version", "body"}}]}`
(400 TriggerInputSchemaMismatch otherwise); 202 Accepted with an empty body.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.vendor import Answer, FakeVendor, Request

CARD = "application/vnd.microsoft.card.adaptive"


def flow_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Answer:
    return Answer.json(status, {"error": {"code": code, "message": message}}, headers)


class TeamsFake(FakeVendor):
    def __init__(self, sig: str = "teams-flow-signature") -> None:
        super().__init__()
        self.sig = sig
        self.cards: list[dict[str, Any]] = []

    @property
    def flow_url(self) -> str:
        return f"{self.url}/workflows/0f1e/triggers/manual/paths/invoke?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={self.sig}"

    def handle(self, req: Request) -> Answer:
        if req.method != "POST" or not req.path.startswith("/workflows/"):
            return Answer(404)
        if req.query.get("sig") != self.sig:
            return flow_error(
                401,
                "DirectApiAuthorizationRequired",
                "The request must be authenticated only by Shared Access scheme.",
            )
        if not req.headers.get("content-type", "").startswith("application/json"):
            return flow_error(
                400,
                "TriggerInputSchemaMismatch",
                "The input body for trigger 'manual' of type 'Request' must be of type JSON",
            )
        try:
            data = req.json()
            (attachment,) = data["attachments"]
            content = attachment["content"]
            ok = (
                data.get("type") == "message"
                and attachment.get("contentType") == CARD
                and content.get("type") == "AdaptiveCard"
                and isinstance(content.get("version"), str)
                and isinstance(content.get("body"), list)
                and all(isinstance(b, dict) and "type" in b for b in content["body"])
            )
        except (ValueError, KeyError, TypeError):
            ok = False
        if not ok:
            return flow_error(
                400,
                "TriggerInputSchemaMismatch",
                "The input body for trigger 'manual' of type 'Request' did not match its schema definition.",
            )
        with self.lock:
            self.cards.append(content)
        return Answer(202)
