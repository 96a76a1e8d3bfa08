"""Slack: `chat.postMessage` with Block Kit (title, severity, the one-line why, buttons Acknowledge
and Open packet), and `chat.update` once the incident is acknowledged or resolved, replacing the
buttons with "Acknowledged by Alice". The Acknowledge press comes back signed to
`POST /integrations/slack/interactions` (alerts.integrations.slack).

    [channels.slack]
    type = "slack"
    api_url = "https://slack.com"     # the default; tocsin appends /api/chat.postMessage
    token_env = "SLACK_BOT_TOKEN"     # xoxb-…, scopes chat:write (and im:write for DMs)
    signing_secret_env = "SLACK_SIGNING_SECRET"
    channel = "C0123456789"           # optional: post here, mentioning the person

A person is reached in `channel` (mentioned by their `slack_user_id`) or, without a channel, by a
direct message to their `slack_user_id`. Slack answers HTTP 200 with `{"ok": false, "error": …}`:
a few errors are transient (`ratelimited`, `internal_error`, …), every other one (a revoked token,
an unknown channel) is permanent. Text from mentions is escaped for mrkdwn (`<!channel>` in a
post must never ping a whole channel).
"""

from __future__ import annotations

import os
from typing import Any

import httpx
from pydantic import Field

from alerts.channels import http
from alerts.channels.base import (
    ACKNOWLEDGED,
    RESOLVED,
    OutgoingMessage,
    Receipt,
    TransportError,
)
from alerts.channels.registry import BuildContext, ChannelType, Options
from alerts.channels.render import one_line
from worker.config import Person

ACK_ACTION = "tocsin_ack"
PACKET_ACTION = "tocsin_packet"
TRANSIENT = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


class SlackOptions(Options):
    api_url: str = Field(default="https://slack.com", pattern=r"^https?://[^/\s]+/?$")
    token_env: str = Field(min_length=1)
    signing_secret_env: str = Field(min_length=1)
    channel: str | None = Field(default=None, min_length=1)


def mrkdwn(value: Any, limit: int = 2900) -> str:
    """Mention text made inert for Slack's mrkdwn: the three characters Slack asks apps to
    escape, so `<!channel>` or `<https://evil|click here>` show as typed."""
    text = one_line(value, limit)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _plain(value: Any, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": one_line(value, limit) or " ", "emoji": False}


def blocks(message: OutgoingMessage) -> list[dict[str, Any]]:
    """The Block Kit message: what Slack shows, with the buttons while there is something to do."""
    b = message.body
    _, _, mention = message.address.partition("/")
    why = (b.get("explanations") or [""])[0]
    out: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(message.subject, 150)},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": (f"<@{mention}> " if mention else "")
                + f"*SEV{b.get('severity', '?')}* · {mrkdwn(b.get('title', ''), 300)}\n"
                + mrkdwn(why, 2500),
            },
        },
    ]
    if b.get("opened_shown"):
        out.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"Opened {mrkdwn(b['opened_shown'])}"}],
            }
        )
    if message.action in (ACKNOWLEDGED, RESOLVED):
        if message.action == RESOLVED:
            done = "Resolved"
        else:
            done = f"Acknowledged by {b.get('acknowledged_name') or b.get('acknowledged_by')}"
        out.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f":white_check_mark: {mrkdwn(done, 300)}"},
            }
        )
        if b.get("packet_url"):
            out.append({"type": "actions", "block_id": "tocsin", "elements": [_packet_button(b)]})
        return out
    buttons = []
    if message.incident_id and b.get("ack_url") and not b.get("acknowledged_by"):
        buttons.append(
            {
                "type": "button",
                "action_id": ACK_ACTION,
                "text": _plain("Acknowledge", 75),
                "style": "primary",
                "value": str(message.incident_id),
            }
        )
    elif b.get("acknowledged_by"):
        out.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"Now severe. {mrkdwn(b['acknowledged_by'], 200)} acknowledged it and is on it.",
                },
            }
        )
    if b.get("packet_url"):
        buttons.append(_packet_button(b))
    if buttons:
        out.append({"type": "actions", "block_id": "tocsin", "elements": buttons})
    return out


def _packet_button(b: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": PACKET_ACTION,
        "text": _plain("Open packet", 75),
        "url": str(b["packet_url"])[:3000],
    }


class SlackChannel:
    def __init__(
        self, name: str, options: SlackOptions, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.name = name
        self.options = options
        self.base = options.api_url.rstrip("/")
        self.transport = transport

    def _token(self) -> str:
        token = os.environ.get(self.options.token_env)
        if not token:
            raise TransportError(f"slack: ${self.options.token_env} is not set", permanent=True)
        return token

    def _call(self, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self._token()}"}
        with http.client(self.transport) as client:
            r = http.post(
                client,
                f"{self.base}/api/{method}",
                f"slack {method}",
                json=payload,
                headers=headers,
            )
        data = http.json_or_empty(r)
        http.check(r, f"slack {method}", str(data.get("error", "")))
        if data.get("ok") is not True:
            error = str(data.get("error") or "no ok in the answer")
            raise TransportError(f"slack {method}: {error}", permanent=error not in TRANSIENT)
        return data

    def send(self, message: OutgoingMessage) -> Receipt | None:
        text = one_line(message.subject, 300)  # the notification text of phones and watches
        if message.action in (ACKNOWLEDGED, RESOLVED):
            ref = message.reply_to or {}
            if not ref.get("channel") or not ref.get("ts"):
                raise TransportError(
                    "slack chat.update: no delivered message to update", permanent=True
                )
            self._call(
                "chat.update",
                {
                    "channel": ref["channel"],
                    "ts": ref["ts"],
                    "text": text,
                    "blocks": blocks(message),
                },
            )
            return None
        conversation, _, _ = message.address.partition("/")
        data = self._call(
            "chat.postMessage",
            {
                "channel": conversation,
                "text": text,
                "blocks": blocks(message),
                "unfurl_links": False,
                # The stable id travels with the message (Slack has no idempotency key for
                # chat.postMessage): a bot reading the channel can drop a redelivered page.
                "metadata": {
                    "event_type": "tocsin_notification",
                    "event_payload": {
                        "notification_id": message.uid,
                        "incident_id": message.incident_id or 0,
                    },
                },
            },
        )
        return {"channel": data.get("channel"), "ts": data.get("ts")}


def _build(name: str, options: SlackOptions, ctx: BuildContext) -> SlackChannel:
    return SlackChannel(name, options, transport=ctx.transport)


def _address(person: Person, options: SlackOptions) -> str | None:
    """`C…/U…`: post in the team channel mentioning the person; `U…`: a direct message."""
    if options.channel:
        return (
            f"{options.channel}/{person.slack_user_id}" if person.slack_user_id else options.channel
        )
    return person.slack_user_id


CHANNEL = ChannelType(
    "slack",
    SlackOptions,
    _build,
    _address,
    contact="slack_user_id",
    follow_up="message",
    routes="alerts.integrations.slack:routes",
    shared=True,
)
