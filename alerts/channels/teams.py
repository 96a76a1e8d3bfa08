"""Microsoft Teams through a Workflows webhook ("When a Teams webhook request is received"): a
message with one Adaptive Card — title, severity, the why, and the actions Acknowledge (opens the
signed acknowledge page) and Open packet.

    [channels.teams]
    type = "teams"
    url_env = "TEAMS_WORKFLOW_URL"   # the URL is a credential: it lives in the environment

A person with `teams = "alice@example.com"` (their Teams sign-in) is @mentioned in the card.
Workflows answers 202; 429 and 5xx are retried, other 4xx (an expired or deleted flow) are
permanent.
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

CARD = "application/vnd.microsoft.card.adaptive"
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!<>~|])")


class TeamsOptions(Options):
    url_env: str = Field(min_length=1)


def inert(value: Any, limit: int = 1000) -> str:
    """Mention text for a TextBlock, which renders markdown: escaped, so `[click](http://evil)`
    shows as typed and never becomes a link."""
    return _MARKDOWN.sub(r"\\\1", one_line(value, limit))


def card(message: OutgoingMessage) -> dict[str, Any]:
    b = message.body
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "size": "Large",
            "weight": "Bolder",
            "wrap": True,
            "text": inert(message.subject, 300),
        },
    ]
    entities = []
    if message.address and message.address != "channel":
        name = one_line(b.get("recipient_name") or message.recipient, 100)
        body.append({"type": "TextBlock", "wrap": True, "text": f"<at>{inert(name, 100)}</at>"})
        entities.append(
            {
                "type": "mention",
                "text": f"<at>{inert(name, 100)}</at>",
                "mentioned": {"id": message.address, "name": name},
            }
        )
    for why in (b.get("explanations") or [])[:3]:
        body.append({"type": "TextBlock", "wrap": True, "text": inert(why)})
    facts = [{"title": "Severity", "value": f"SEV{b.get('severity', '?')}"}]
    if b.get("opened_shown"):
        facts.append({"title": "Opened", "value": inert(b["opened_shown"], 100)})
    if b.get("acknowledged_by"):
        facts.append({"title": "Acknowledged by", "value": inert(b["acknowledged_by"], 100)})
    body.append({"type": "FactSet", "facts": facts})
    actions = []
    if b.get("ack_url") and not b.get("acknowledged_by"):
        actions.append({"type": "Action.OpenUrl", "title": "Acknowledge", "url": b["ack_url"]})
    if b.get("packet_url"):
        actions.append({"type": "Action.OpenUrl", "title": "Open packet", "url": b["packet_url"]})
    content: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "actions": actions,
    }
    if entities:
        content["msteams"] = {"entities": entities}
    return {
        "type": "message",
        "attachments": [{"contentType": CARD, "contentUrl": None, "content": content}],
    }


class TeamsChannel:
    def __init__(
        self, name: str, options: TeamsOptions, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.name = name
        self.options = options
        self.transport = transport

    def send(self, message: OutgoingMessage) -> Receipt | None:
        if message.action not in ("page", "test"):
            return None
        url = os.environ.get(self.options.url_env)
        if not url:
            raise TransportError(f"teams: ${self.options.url_env} is not set", permanent=True)
        with http.client(self.transport) as client:
            r = http.post(
                client,
                url,
                "teams",
                json=card(message),
                headers={"X-Tocsin-Notification-Id": message.uid},
            )
        error = http.json_or_empty(r).get("error")
        detail = str(error.get("code", "")) if isinstance(error, dict) else ""
        http.check(r, "teams", detail)
        return None


def _build(name: str, options: TeamsOptions, ctx: BuildContext) -> TeamsChannel:
    return TeamsChannel(name, options, transport=ctx.transport)


def _address(person: Person, options: TeamsOptions) -> str:
    """The person's Teams sign-in, to @mention them; else the card goes to the flow's channel."""
    return person.teams or "channel"


CHANNEL = ChannelType("teams", TeamsOptions, _build, _address, contact="teams", shared=True)
