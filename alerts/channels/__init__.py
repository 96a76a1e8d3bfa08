"""Channels by configuration: console (always), smtp, webhook."""

from __future__ import annotations

from pathlib import Path

from alerts.channels.base import ChannelAdapter, OutgoingMessage, TransportError
from alerts.channels.console import ConsoleChannel
from alerts.channels.smtp import SMTPChannel
from alerts.channels.webhook import WebhookChannel
from worker.config import Config


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


__all__ = ["ChannelAdapter", "OutgoingMessage", "TransportError", "build_channels"]
