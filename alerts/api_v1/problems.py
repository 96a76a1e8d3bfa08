"""Errors of `/api/v1` as `application/problem+json` (RFC 9457): `type`, `title`, `status`,
`detail` (and `errors` for a request that did not validate).

`ProblemRoute` is the route class of the v1 router: whatever a handler or a dependency raises —
`HTTPException` (404, 401/403 from `Auth.api`, 409 …), FastAPI's `RequestValidationError` (422) or
any other exception (500, logged without the request's content) — becomes a problem document,
without touching the rest of the app. `not_found_route` (on a `FallbackRoute`) answers paths
under `/api/v1` that match no endpoint (404, or 405 with `Allow` when only the method is wrong).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from http import HTTPStatus
from typing import Any

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

PROBLEM = "application/problem+json"
log = logging.getLogger(__name__)


class FieldError(BaseModel):
    loc: list[str | int] = Field(
        description="where: e.g. ['query', 'limit'] or ['body', 'minutes']"
    )
    msg: str


class Problem(BaseModel):
    """An error (RFC 9457)."""

    type: str = Field(description='a URI naming the kind of problem; "about:blank" here')
    title: str = Field(description="the kind of problem, for people")
    status: int = Field(ge=400, le=599)
    detail: str = Field(description="what went wrong with this request")
    errors: list[FieldError] | None = Field(
        default=None, description="each field that did not validate (422 only)"
    )


def problem(
    status: int,
    detail: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body: dict[str, Any] = {
        # RFC 9457 4.2.1: no type of our own, so `about:blank` and the status phrase as title.
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _validation(exc: RequestValidationError) -> JSONResponse:
    errors = []
    for e in exc.errors():
        loc = [x if isinstance(x, int) else str(x) for x in e.get("loc", ())]
        errors.append({"loc": loc, "msg": str(e.get("msg", "invalid"))})
    where = "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in errors[:5])
    return problem(422, where or "the request did not validate", errors=errors)


def from_exception(exc: Exception) -> Response:
    if isinstance(exc, RequestValidationError):
        return _validation(exc)
    ready = getattr(exc, "response", None)  # `alerts.auth.AuthRefusal` carries its problem
    if isinstance(ready, Response):
        return ready
    if isinstance(exc, StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        return problem(exc.status_code, detail, headers=dict(exc.headers or {}))
    log.exception("api v1: unhandled %s", type(exc).__name__)
    return problem(500, "internal error: the server could not answer; see its log")


class ProblemRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                response = await handler(request)
            except Exception as exc:
                return from_exception(exc)
            return response

        return guarded


_PROBING = "tocsin.api_v1.probing"


class FallbackRoute(ProblemRoute):
    """`/api/v1/{rest:path}`: matches only when no other route of the app fully matches, so a
    route added to the app after this router (a test's, a plugin's) is still reached."""

    def matches(self, scope: Any) -> tuple[Match, Any]:
        if scope.get(_PROBING):  # asked again while probing the app's routes (nested routers)
            return Match.NONE, {}
        match, child = super().matches(scope)
        if match is Match.NONE:
            return match, child
        probe = {**scope, _PROBING: True}
        app = scope.get("app")
        for route in getattr(getattr(app, "router", None), "routes", ()):
            if route.matches(probe)[0] is Match.FULL:
                return Match.NONE, {}
        return match, child


def not_found_route(router_routes: Callable[[], list[Any]]) -> Callable[..., Response]:
    """The handler of `/api/v1/{rest:path}` (any method), registered last."""

    def fallback(request: Request, rest: str) -> Response:
        scope = dict(request.scope)
        allowed: set[str] = set()
        for route in router_routes():
            if getattr(route, "path", "").endswith("{rest:path}"):
                continue
            match, _ = route.matches(scope)
            if match in (Match.PARTIAL, Match.FULL):
                allowed |= set(getattr(route, "methods", ()) or ())
        if allowed:
            return problem(
                405,
                f"{request.method} is not allowed here; use {', '.join(sorted(allowed))}",
                headers={"Allow": ", ".join(sorted(allowed))},
            )
        raise HTTPException(404, f"no such endpoint: {request.url.path}")

    return fallback


__all__ = [
    "PROBLEM",
    "FallbackRoute",
    "Problem",
    "ProblemRoute",
    "from_exception",
    "not_found_route",
    "problem",
]
