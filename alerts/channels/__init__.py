"""Channels: one module per way of reaching a person, declared in the registry (registry.py).

Importing this package registers every channel type's option checker with the config loader
(`worker.config.CHANNEL_CHECKS`), so `tocsin.toml` is validated by the modules that own the options.
"""

from __future__ import annotations

from functools import partial

from alerts.channels.base import ChannelAdapter, OutgoingMessage, Receipt, TransportError
from alerts.channels.registry import (
    CONTACT_KEYS,
    address_for,
    build_channels,
    check_options,
    next_contact,
    registry,
)
from worker import config as _config


def register_config_checks() -> None:
    for type_name in registry():
        _config.CHANNEL_CHECKS[type_name] = partial(check_options, type_name)


register_config_checks()

__all__ = [
    "CONTACT_KEYS",
    "ChannelAdapter",
    "OutgoingMessage",
    "Receipt",
    "TransportError",
    "address_for",
    "build_channels",
    "next_contact",
]
