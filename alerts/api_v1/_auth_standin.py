"""TEMPORARY stand-in for `alerts.auth` (INTERFACES.md) until the `auth` branch is merged.

Delete this file after `git merge auth`. Bearer tokens "viewer", "responder", "admin" give that
role; no header gives nothing (401).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request


class Role(enum.IntEnum):
    viewer = 1
    responder = 2
    admin = 3


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role
    via: str


class Auth:
    def __init__(self, rt_of: Callable[[], Any], now_of: Callable[[], Any]) -> None:
        self.rt_of, self.now_of = rt_of, now_of

    def principal(self, request: Request) -> Principal | None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and value in Role.__members__:
            return Principal(name=value, role=Role[value], via="token")
        return None

    def api(self, role: Role = Role.viewer) -> Callable[..., Principal]:
        def dep(request: Request) -> Principal:
            p = self.principal(request)
            if p is None:
                raise HTTPException(
                    401, "log in or send a bearer token", {"WWW-Authenticate": "Bearer"}
                )
            if p.role < role:
                raise HTTPException(403, f"needs the {role.name} role")
            return p

        return dep
