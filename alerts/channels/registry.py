"""The channel registry: each channel module declares one `ChannelType` — its options (a pydantic
model), how to address a person, how to build its sender, which contact method of a person it
uses, whether it updates delivered pages, and its inbound routes. Nothing else switches on a
channel's type (DESIGN.md, "Packages").
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from alerts.channels.base import ChannelAdapter
from worker.config import Config, Person

#: A person's contact methods, in the order a page falls back through them (issue 13).
CONTACT_KEYS = ("email", "phone", "slack_user_id", "teams")

#: The modules that declare a `CHANNEL`; one per channel.
MODULES = (
    "alerts.channels.console",
    "alerts.channels.smtp",
    "alerts.channels.webhook",
    "alerts.channels.slack",
    "alerts.channels.twilio",
    "alerts.channels.pagerduty",
    "alerts.channels.teams",
    "alerts.channels.apprise",
)


class Options(BaseModel):
    """Base of every channel's options: unknown keys are an error, not silently ignored, and values
    keep their TOML types (a port written "25" is an error, as everywhere in tocsin.toml)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, strict=True)


@dataclass(frozen=True)
class BuildContext:
    outbox_dir: Path
    #: Tests inject an httpx transport; production uses the network.
    transport: httpx.BaseTransport | None = None


OptionsModel = type[Options]


@dataclass(frozen=True)
class ChannelType:
    type: str
    options: OptionsModel
    build: Callable[[str, Any, BuildContext], ChannelAdapter]
    #: The address of a person on this channel (an e-mail, a phone number, a Slack id), or None
    #: when the person cannot be reached this way.
    address: Callable[[Person, Any], str | None]
    #: The person's contact key this channel serves (CONTACT_KEYS), for fallback; None for
    #: channels that are not a person's contact method (console, webhook, PagerDuty, Apprise).
    contact: str | None = None
    #: "message": each delivered page is updated when the incident is acknowledged or resolved
    #: (Slack); "incident": one update per incident (PagerDuty); None: nothing to update.
    follow_up: str | None = None
    #: "module:function" returning the inbound APIRouter, loaded only by the web app.
    routes: str | None = None
    #: True when one address can stand for several people and the message does not name them
    #: (a PagerDuty service, Apprise's URLs, a Slack or Teams room): a step sends there once,
    #: however many of its people it reaches that way. False (webhook, console, e-mail, SMS):
    #: one message per person.
    shared: bool = False


@lru_cache(maxsize=1)
def registry() -> dict[str, ChannelType]:
    types: dict[str, ChannelType] = {}
    for module in MODULES:
        ctype: ChannelType = importlib.import_module(module).CHANNEL
        types[ctype.type] = ctype
    return types


def channel_type(type_name: str) -> ChannelType:
    try:
        return registry()[type_name]
    except KeyError:
        raise KeyError(f"unknown channel type {type_name!r}") from None


def _first_error(exc: ValidationError, model: type[Options]) -> str:
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"]) or "options"
    if err["type"] == "missing":
        return f"{key}: is required"
    if err["type"] == "extra_forbidden":
        allowed = ", ".join(sorted(["type", *model.model_fields]))
        return f"{key}: unknown key (expected one of: {allowed})"
    got = err.get("input")
    return f"{key}: {err['msg'].removeprefix('Value error, ')} (got {got!r})"


def check_options(type_name: str, raw: Mapping[str, Any]) -> None:
    """Validate a `[channels.NAME]` table (without `type`); raise ValueError("key: what")."""
    model = channel_type(type_name).options
    try:
        model.model_validate(dict(raw))
    except ValidationError as exc:
        raise ValueError(_first_error(exc, model)) from None


@lru_cache(maxsize=256)
def _options(type_name: str, frozen: tuple[tuple[str, Any], ...]) -> Options:
    return channel_type(type_name).options.model_validate(dict(frozen))


def options_of(config: Config, channel_name: str) -> Options:
    ch = config.channels[channel_name]
    try:
        return _options(ch.type, tuple(sorted(ch.options.items())))
    except TypeError:  # an unhashable option value (a list): validate without the cache
        return channel_type(ch.type).options.model_validate(dict(ch.options))


def address_for(config: Config, person: Person, channel_name: str) -> str | None:
    """Where `person` is reached on the channel `channel_name`, or None if they cannot be."""
    if channel_name not in config.channels:
        return None
    ctype = channel_type(config.channels[channel_name].type)
    address = ctype.address(person, options_of(config, channel_name))
    return address or None


def contact_channels(config: Config, person: Person) -> list[tuple[str, str]]:
    """(channel name, address) for each of the person's contact methods, in CONTACT_KEYS order."""
    found = []
    for key in CONTACT_KEYS:
        if not getattr(person, key, None):
            continue
        for name, ch in config.channels.items():
            ctype = registry().get(ch.type)
            if ctype is None or ctype.contact != key:
                continue
            address = address_for(config, person, name)
            if address:
                found.append((name, address))
    return found


def next_contact(config: Config, person_id: str, tried: set[str]) -> tuple[str, str] | None:
    """The person's first contact method not tried yet for this page, or None."""
    person = config.people.get(person_id)
    if person is None:
        return None
    for name, address in contact_channels(config, person):
        if name not in tried:
            return name, address
    return None


def build_channels(
    config: Config, outbox_dir: Path, *, transport: httpx.BaseTransport | None = None
) -> dict[str, ChannelAdapter]:
    """A sender for every configured channel (and the console, always there)."""
    ctx = BuildContext(outbox_dir, transport)
    built: dict[str, ChannelAdapter] = {}
    console = registry()["console"]
    built["console"] = console.build("console", console.options(), ctx)
    for name, ch in config.channels.items():
        ctype = channel_type(ch.type)
        built[name] = ctype.build(name, options_of(config, name), ctx)
    return built


def follow_up_channels(config: Config) -> dict[str, str]:
    """Channel name → follow-up scope, for the channels that update delivered pages."""
    out = {}
    for name, ch in config.channels.items():
        ctype = registry().get(ch.type)
        if ctype is not None and ctype.follow_up:
            out[name] = ctype.follow_up
    return out


def route_factories() -> list[Callable[..., Any]]:
    """The inbound route factories of every channel type that has some (for the web app)."""
    found = []
    for ctype in registry().values():
        if ctype.routes:
            module, func = ctype.routes.split(":")
            found.append(getattr(importlib.import_module(module), func))
    return found


def configured(config: Config, type_name: str) -> list[tuple[str, Any]]:
    """(name, options) of every configured channel of a type, in file order."""
    return [
        (name, options_of(config, name))
        for name, ch in config.channels.items()
        if ch.type == type_name
    ]
