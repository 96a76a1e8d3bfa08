"""The channel seam: every way of reaching a person is one small module with one `send()`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

#: What a notification asks of its channel: a page (or a test), or an update of a page already
#: delivered once the incident was acknowledged or resolved (Slack chat.update, PagerDuty ack).
PAGE, TEST, ACKNOWLEDGED, RESOLVED = "page", "test", "acknowledged", "resolved"


@dataclass(frozen=True)
class OutgoingMessage:
    """One notification row, as a channel sees it. `body` holds what the message shows.

    `uid` is the notification's stable id: the same on every attempt (a redelivery after a crash
    carries it again), sent to the receiver so it can drop a duplicate. `reply_to` is the receipt
    of the delivered page an update refers to.
    """

    notification_id: int
    incident_id: int | None
    channel: str
    recipient: str
    role: str
    address: str
    subject: str
    body: dict[str, Any]
    uid: str = ""
    action: str = PAGE
    reply_to: Mapping[str, Any] | None = field(default=None)


class TransportError(Exception):
    """Delivery failed. `permanent` (bad address, refused credentials) is not retried;
    `retry_after` (seconds, from the vendor's Retry-After) delays the next attempt at least that."""

    def __init__(
        self, message: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


#: What a vendor answered about a delivered message (e.g. Slack's channel and ts), kept on the row.
Receipt = Mapping[str, Any]


class ChannelAdapter(Protocol):
    name: str

    def send(self, message: OutgoingMessage) -> Receipt | None: ...
