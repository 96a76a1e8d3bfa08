"""Every other chat or push service (Telegram, Discord, Google Chat, Mattermost, Matrix, ntfy, …)
through Apprise: one-way, the message carrying the signed acknowledge link.

    [channels.telegram]
    type = "apprise"
    url_env = "TELEGRAM_APPRISE_URL"   # e.g. tgram://bottoken/ChatID — the URL holds credentials

Apprise reports only success or failure, so a failure is retried with backoff (a bad URL, which
Apprise refuses before sending anything, is permanent).
"""

from __future__ import annotations

import os

from pydantic import Field

from alerts.channels.base import OutgoingMessage, Receipt, TransportError
from alerts.channels.registry import BuildContext, ChannelType, Options
from alerts.channels.render import one_line
from worker.config import Person


class AppriseOptions(Options):
    url_env: str = Field(min_length=1)


def text(message: OutgoingMessage) -> str:
    b = message.body
    lines = [one_line(e, 500) for e in (b.get("explanations") or [])[:3]]
    if b.get("acknowledged_by"):
        lines.append(f"{one_line(b['acknowledged_by'], 100)} acknowledged it and is on it.")
    elif b.get("ack_url"):
        lines.append(f"Acknowledge: {b['ack_url']}")
    if b.get("packet_url"):
        lines.append(f"Briefing packet: {b['packet_url']}")
    return "\n".join(lines) or one_line(message.subject)


class AppriseChannel:
    def __init__(self, name: str, options: AppriseOptions) -> None:
        self.name = name
        self.options = options

    def send(self, message: OutgoingMessage) -> Receipt | None:
        if message.action not in ("page", "test"):
            return None
        import apprise  # imported when used: it loads every plugin it has

        url = os.environ.get(self.options.url_env)
        if not url:
            raise TransportError(f"apprise: ${self.options.url_env} is not set", permanent=True)
        notifier = apprise.Apprise()
        if not notifier.add(url):
            raise TransportError(
                f"apprise: ${self.options.url_env} is not a URL Apprise knows", permanent=True
            )
        ok = notifier.notify(
            title=one_line(message.subject, 250),
            body=text(message),
            body_format=apprise.NotifyFormat.TEXT,
        )
        if not ok:
            raise TransportError(f"apprise {self.name}: the service refused or did not answer")
        return None


def _build(name: str, options: AppriseOptions, ctx: BuildContext) -> AppriseChannel:
    return AppriseChannel(name, options)


def _address(person: Person, options: AppriseOptions) -> str:
    return "apprise"


CHANNEL = ChannelType("apprise", AppriseOptions, _build, _address, shared=True)
