"""Inbound routes of the two-way channels, under `/integrations/…`: a Slack button press, a Twilio
SMS reply, a PagerDuty webhook. They take no API token: each verifies its vendor's signature
instead, and a request that fails it gets 401 or 403 and changes nothing.

    app.include_router(alerts.integrations.router(runtime_provider, clock))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter

from alerts.channels.registry import route_factories
from worker.runtime import Runtime

#: Larger bodies are refused before any parsing (Slack, Twilio and PagerDuty send a few kB).
MAX_BODY = 512 * 1024


@dataclass(frozen=True)
class Context:
    runtime: Callable[[], Runtime]
    clock: Callable[[], datetime]


def router(runtime: Callable[[], Runtime], clock: Callable[[], datetime]) -> APIRouter:
    ctx = Context(runtime, clock)
    combined = APIRouter()
    for factory in route_factories():
        combined.include_router(factory(ctx))
    return combined
