"""The channel seam: every way of reaching a person is one small module with one `send()`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class OutgoingMessage:
    """One notification row, as a channel sees it. `body` holds what the message shows."""

    notification_id: int
    incident_id: int | None
    channel: str
    recipient: str
    role: str
    address: str
    subject: str
    body: dict[str, Any]


class TransportError(Exception):
    """Delivery failed. `permanent` (bad address, refused credentials) is not retried."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class ChannelAdapter(Protocol):
    name: str

    def send(self, message: OutgoingMessage) -> None: ...
