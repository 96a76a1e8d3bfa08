"""Signed, expiring links: acknowledgement (single-use, enforced by the database) and packet view.

The expiry travels inside the signed payload and is checked against the `now` the caller passes,
so time stays an argument (itsdangerous' timed serializers would read the wall clock).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from itsdangerous import BadSignature, URLSafeSerializer

ACK_SALT = "tocsin.ack.v1"
VIEW_SALT = "tocsin.view.v1"


class TokenError(ValueError):
    """`reason` is "invalid" or "expired"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class AckClaim:
    incident_id: int
    recipient: str
    token_id: str
    expires_at: datetime


def make_ack_token(
    secret: str, incident_id: int, recipient: str, expires_at: datetime, token_id: str | None = None
) -> str:
    payload = {
        "i": incident_id,
        "r": recipient,
        "j": token_id or secrets.token_urlsafe(12),
        "e": int(expires_at.timestamp()),
    }
    return URLSafeSerializer(secret, salt=ACK_SALT).dumps(payload)


def _load(secret: str, salt: str, token: str, now: datetime) -> dict[str, object]:
    try:
        data = URLSafeSerializer(secret, salt=salt).loads(token)
    except BadSignature:
        raise TokenError("invalid") from None
    if not isinstance(data, dict) or not isinstance(data.get("e"), int):
        raise TokenError("invalid")
    if now.timestamp() > data["e"]:
        raise TokenError("expired")
    return data


def read_ack_token(secret: str, token: str, now: datetime) -> AckClaim:
    data = _load(secret, ACK_SALT, token, now)
    try:
        incident_id, expires = data["i"], data["e"]
        if not isinstance(incident_id, int) or not isinstance(expires, int | float):
            raise TokenError("invalid")
        return AckClaim(
            incident_id,
            str(data["r"]),
            str(data["j"]),
            datetime.fromtimestamp(int(expires), UTC),
        )
    except (KeyError, TypeError, ValueError):
        raise TokenError("invalid") from None


def make_view_token(secret: str, incident_id: int, expires_at: datetime) -> str:
    return URLSafeSerializer(secret, salt=VIEW_SALT).dumps(
        {"i": incident_id, "e": int(expires_at.timestamp())}
    )


def read_view_token(secret: str, token: str, now: datetime) -> int:
    """The incident id a packet link may show."""
    data = _load(secret, VIEW_SALT, token, now)
    try:
        return int(data["i"])  # type: ignore[call-overload]
    except (KeyError, TypeError, ValueError):
        raise TokenError("invalid") from None
