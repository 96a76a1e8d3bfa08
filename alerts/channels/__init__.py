"""Channels by configuration: console (always), smtp, webhook."""

from __future__ import annotations

from pathlib import Path

from alerts.channels.base import ChannelAdapter, OutgoingMessage, TransportError
from alerts.channels.console import ConsoleChannel
from alerts.channels.smtp import SMTPChannel
from alerts.channels.webhook import WebhookChannel
from worker.config import Config, Person


def address_for(config: Config, person: Person, channel_name: str) -> str | None:
    """Where `channel_name` reaches `person`, or None if it cannot (no address for it).

    A minimal version (on-call branch): e-mail for smtp, the URL for a webhook, the person id for
    the console. The channel registry replaces it with each channel module's own addressing.
    """
    channel = config.channels.get(channel_name)
    if channel is None:
        return None
    if channel.type == "smtp":
        return person.email or None
    if channel.type == "webhook":
        url = channel.options.get("url")
        return str(url) if url else None
    if channel.type == "console":
        return person.id
    return None


def build_channels(config: Config, outbox_dir: Path) -> dict[str, ChannelAdapter]:
    channels: dict[str, ChannelAdapter] = {"console": ConsoleChannel(outbox_dir)}
    for name, ch in config.channels.items():
        if ch.type == "smtp":
            channels[name] = SMTPChannel(name, ch.options)
        elif ch.type == "webhook":
            channels[name] = WebhookChannel(name, ch.options)
        else:
            channels[name] = ConsoleChannel(outbox_dir, name=name)
    return channels


__all__ = [
    "ChannelAdapter",
    "OutgoingMessage",
    "TransportError",
    "address_for",
    "build_channels",
]
