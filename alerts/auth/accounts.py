"""Accounts: who may use the web app and the API, with which role (issue #16).

- A **role** orders what a person may do: a `viewer` (leadership) sees everything and acts on
  nothing, a `responder` acts on incidents, an `admin` also manages the tool. A higher role may do
  whatever a lower one can.
- A new account has no password. `create_user` returns a one-time **set-password link**
  (`/set-password/<token>`, valid `SETUP_VALID` and used once); only the SHA-256 of its token is
  stored. Passwords are hashed with argon2id (`argon2-cffi`, its RFC 9106 default parameters).
- A **personal token** (`create_token`) is a bearer token for `/api/v1` that acts with its
  account's role; it is shown once and stored as SHA-256 (a random 256-bit token needs no slow
  hash).

Every change to an account is logged (`tocsin.auth`), never with a password or a token.
Time is an argument (`now`); nothing here reads the clock.
"""

from __future__ import annotations

import enum
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from worker.logs import get_logger
from worker.storage.models import ApiToken, User, WebSession

log = get_logger("tocsin.auth")

SETUP_VALID = timedelta(hours=24)
PASSWORD_MIN = 10
PASSWORD_MAX = 1024  # argon2 hashes anything, but a megabyte "password" is a denial of service
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,199}")
TOKEN_USE_STEP = timedelta(minutes=1)
TOKEN_PREFIX = "tcn_"  # noqa: S105 - marks a personal token, not a secret

_hasher = PasswordHasher()
#: Verified against when the account does not exist, so an unknown name costs the same time as a
#: wrong password (the login page must not tell them apart).
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """A bad account operation; the message says what and why (shown by the CLI as is)."""


class Role(enum.IntEnum):
    """Order matters: a higher role may do what a lower one can."""

    viewer = 1
    responder = 2
    admin = 3

    @classmethod
    def parse(cls, value: str) -> Role:
        try:
            return cls[value.strip().lower()]
        except KeyError:
            raise AccountError(
                f"role {value!r}: must be one of {', '.join(r.name for r in cls)}"
            ) from None


@dataclass(frozen=True)
class Principal:
    """Who is calling: the account name (used as `by=` in actions), its role, and how they were
    recognised: "session" (logged-in browser), "token" (personal bearer token), "proxy" (the
    authenticating reverse proxy's header) or "local" (loopback while no account exists)."""

    name: str
    role: Role
    via: str


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password_rules(password: str) -> None:
    if len(password) < PASSWORD_MIN:
        raise AccountError(f"password: at least {PASSWORD_MIN} characters")
    if len(password) > PASSWORD_MAX:
        raise AccountError(f"password: at most {PASSWORD_MAX} characters")


def verify_password(user: User | None, password: str) -> bool:
    """True if `password` is the account's. Costs one argon2 verification whether or not the
    account exists, is disabled or has no password yet."""
    stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    ok: bool
    try:
        ok = _hasher.verify(stored, password[:PASSWORD_MAX])
    except (VerificationError, InvalidHashError):
        ok = False
    return ok and user is not None and bool(user.password_hash) and not user.disabled


def rehash_if_needed(user: User, password: str) -> None:
    """After a successful login: upgrade a hash made with older parameters."""
    if user.password_hash and _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)


def _check_name(name: str) -> str:
    if not NAME_RE.fullmatch(name):
        raise AccountError(
            f"account name {name[:40]!r}: use letters, digits and . _ @ + - "
            "(starting with a letter or digit, at most 200 characters)"
        )
    return name


def get_user(session: Session, name: str) -> User | None:
    return session.scalar(select(User).where(User.name == name))


def has_users(session: Session) -> bool:
    return bool(session.scalar(select(func.count()).select_from(User)))


def _new_setup_link(user: User, now: datetime) -> str:
    token = secrets.token_urlsafe(32)
    user.setup_hash = sha256(token)
    user.setup_expires_at = now + SETUP_VALID
    return f"/set-password/{token}"


def create_user(
    session: Session, name: str, role: Role, now: datetime, password: str | None = None
) -> str:
    """Add an account. Returns its one-time set-password path (`/set-password/<token>`); with
    `password`, the password is set at once (and the link is not usable)."""
    _check_name(name)
    role = Role(role)
    if get_user(session, name) is not None:
        raise AccountError(f"account {name!r} already exists")
    user = User(name=name, role=role.name, disabled=False, created_at=now)
    path = _new_setup_link(user, now)
    if password is not None:
        check_password_rules(password)
        user.password_hash = hash_password(password)
        user.password_set_at = now
        user.setup_hash = None
        user.setup_expires_at = None
    session.add(user)
    session.flush()
    log.info("account_created", account=name, role=role.name, password_set=password is not None)
    return path


def reset_link(session: Session, name: str, now: datetime) -> str:
    """A new one-time set-password link for an existing account (a forgotten password). The old
    password keeps working until the link is used."""
    user = _existing(session, name)
    path = _new_setup_link(user, now)
    log.info("account_reset_link_issued", account=name)
    return path


def _existing(session: Session, name: str) -> User:
    user = get_user(session, name)
    if user is None:
        raise AccountError(f"no account named {name!r} (see: tocsin user list)")
    return user


def user_for_setup(session: Session, token: str, now: datetime) -> tuple[User | None, str]:
    """The account a set-password link is for, or (None, why): "unknown" (never issued or
    already used) or "expired"."""
    user = session.scalar(select(User).where(User.setup_hash == sha256(token)))
    if user is None:
        return None, "unknown"
    if user.setup_expires_at is None or now >= user.setup_expires_at:
        return None, "expired"
    return user, "ok"


def set_password(
    session: Session, user: User, password: str, now: datetime, hashed: str | None = None
) -> None:
    """Set the password and spend the link; every open session of the account is logged out.
    `hashed`: the password's hash made beforehand, outside any transaction (it takes a while).
    Raises AccountError if the link was spent meanwhile."""
    check_password_rules(password)
    hashed = hashed or hash_password(password)
    q = update(User).where(User.id == user.id)
    if user.setup_hash is not None:
        # Spent once even when two posts of the same link race: the second matches no row.
        q = q.where(User.setup_hash == user.setup_hash)
    done = session.execute(
        q.values(password_hash=hashed, password_set_at=now, setup_hash=None, setup_expires_at=None),
        execution_options={"synchronize_session": "fetch"},
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise AccountError("this link was already used")
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    log.info("account_password_set", account=user.name)


def set_role(session: Session, name: str, role: Role) -> None:
    user = _existing(session, name)
    user.role = Role(role).name
    log.info("account_role_changed", account=name, role=Role(role).name)


def disable_user(session: Session, name: str) -> None:
    """Disable an account: it cannot log in, its sessions end, its tokens stop working. Its name
    stays in the audit trail (actions keep `by=` the name)."""
    user = _existing(session, name)
    user.disabled = True
    user.setup_hash = None
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    log.info("account_disabled", account=name)


def enable_user(session: Session, name: str) -> None:
    _existing(session, name).disabled = False
    log.info("account_enabled", account=name)


def list_users(session: Session) -> list[dict[str, Any]]:
    tokens = dict(
        session.execute(
            select(ApiToken.user_id, func.count())
            .where(ApiToken.revoked_at.is_(None))
            .group_by(ApiToken.user_id)
        ).all()
    )
    last_used = dict(
        session.execute(
            select(ApiToken.user_id, func.max(ApiToken.last_used_at))
            .where(ApiToken.revoked_at.is_(None))
            .group_by(ApiToken.user_id)
        ).all()
    )
    return [
        {
            "name": u.name,
            "role": u.role,
            "disabled": u.disabled,
            "password_set": u.password_hash is not None,
            "created_at": u.created_at.isoformat(),
            "tokens": int(tokens.get(u.id, 0)),
            "token_last_used_at": _iso(last_used.get(u.id)),
        }
        for u in session.scalars(select(User).order_by(User.name))
    ]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def create_token(session: Session, user: str, now: datetime) -> str:
    """A new personal bearer token for `user`, returned once (only its SHA-256 is kept)."""
    account = _existing(session, user)
    if account.disabled:
        raise AccountError(f"account {user!r} is disabled")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            token_hash=sha256(token),
            prefix=token[: len(TOKEN_PREFIX) + 6],
            user_id=account.id,
            created_at=now,
        )
    )
    session.flush()
    log.info("token_created", account=user, prefix=token[: len(TOKEN_PREFIX) + 6])
    return token


def revoke_tokens(session: Session, user: str, now: datetime, prefix: str | None = None) -> int:
    """Revoke the account's tokens (only those starting with `prefix` if given); how many."""
    account = _existing(session, user)
    q = update(ApiToken).where(ApiToken.user_id == account.id, ApiToken.revoked_at.is_(None))
    if prefix:
        q = q.where(ApiToken.prefix == prefix[: len(TOKEN_PREFIX) + 6])
    n = session.execute(q.values(revoked_at=now)).rowcount  # type: ignore[attr-defined]
    log.info("token_revoked", account=user, prefix=prefix, count=n)
    return int(n or 0)


def principal_for_token(session: Session, token: str, now: datetime) -> Principal | None:
    """The principal a personal bearer token acts as, or None (unknown, revoked, disabled)."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == sha256(token))
    ).first()
    if row is None:
        return None
    tok, user = row
    if tok.revoked_at is not None or user.disabled:
        return None
    if tok.last_used_at is None or now - tok.last_used_at >= TOKEN_USE_STEP:
        tok.last_used_at = now  # (written when the caller commits; at most once a minute)
    return Principal(user.name, Role[user.role], "token")
