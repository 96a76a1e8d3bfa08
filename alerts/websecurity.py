"""Who may talk to the web app, checked once for every route (including routers added later).

1. **Host**: the `Host` header must name the configured base URL (`TOCSIN_BASE_URL`) or a
   loopback address; anything else is refused (400) before routing, which defeats DNS rebinding.
2. **Exempt callers**: paths under `/integrations/` (Slack, Twilio, PagerDuty callbacks, signed by
   the vendor) and `POST /api/mentions` (push, token/HMAC-signed) authenticate themselves; only the
   Host check applies to them.
3. **State changes** (POST, PUT, PATCH, DELETE): a browser's `Origin` must be this site (the base
   URL's origin or the request's own host); `Sec-Fetch-Site: cross-site` is refused. Calls under
   `/api/` must send `Content-Type: application/json` (the content types a cross-site form or a
   "simple" fetch may send — text/plain, form, multipart — are refused with 415). Elsewhere the
   dashboard's HTML forms may post `application/x-www-form-urlencoded` (or JSON); each such
   handler checks the session's CSRF token (`alerts.auth`). Outside `/api/` a form may also send
   `Origin: null` (what a browser sends for our own forms under our `Referrer-Policy:
   no-referrer`): the CSRF token, or for `POST /ack/<token>` the signed token in its URL, is what
   authorises it.
4. **Legacy token**: the old `/api/…` endpoints (not `/api/v1`) and `/metrics` need
   `Authorization: Bearer $TOCSIN_API_TOKEN` when it is set; without it they answer loopback
   clients only. There is no name for test clients on this list: tests call from 127.0.0.1 like
   any local tool. Dashboard pages and `/api/v1` are guarded by accounts instead
   (`alerts.auth.Auth`: session cookie, personal bearer token, or the proxy header).
5. **Access log**: `RedactTokens` rewrites `/ack/<token>`, `/set-password/<token>` and
   `?t=<token>` in uvicorn's access log lines, so a signed link never lands in a log file.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import re
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import JSONResponse, Response

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
LOOPBACK_CLIENTS = frozenset({"127.0.0.1", "::1"})
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
EXEMPT_PREFIXES = ("/integrations/",)
EXEMPT_EXACT = {("POST", "/api/mentions")}
TOKEN_PREFIXES = ("/api/", "/metrics")
ACCOUNT_PREFIXES = ("/api/v1/",)  # guarded by alerts.auth, not by TOCSIN_API_TOKEN
FORM_TYPES = frozenset({"application/json", "application/x-www-form-urlencoded"})
SIGNED_LINK_PREFIX = "/ack/"


def _hostname(netloc: str) -> str:
    """The host part of a Host header or netloc, lower-cased, port removed, brackets kept off."""
    netloc = netloc.strip().lower()
    if netloc.startswith("["):
        return netloc[1 : netloc.find("]")] if "]" in netloc else netloc
    return netloc.rsplit(":", 1)[0] if netloc.count(":") == 1 else netloc


def allowed_hosts(base_url: str) -> frozenset[str]:
    return frozenset({_hostname(urlsplit(base_url).netloc), *LOOPBACK_HOSTS} - {""})


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def is_exempt(method: str, path: str) -> bool:
    return path.startswith(EXEMPT_PREFIXES) or (method, path.rstrip("/")) in EXEMPT_EXACT


def needs_token(path: str) -> bool:
    """The legacy `TOCSIN_API_TOKEN` rule: old `/api/…` endpoints and `/metrics`."""
    if path.startswith(ACCOUNT_PREFIXES) or path.rstrip("/") == "/api/v1":
        return False
    return path.startswith(TOKEN_PREFIXES)


def _refuse(status: int, detail: str) -> Response:
    return JSONResponse({"detail": detail}, status_code=status)


def check(request: Request, base_url: str, api_token: str | None) -> Response | None:
    """None if the request may go on, else the refusal to send (steps 1–4 above)."""
    host = request.headers.get("host", "")
    if _hostname(host) not in allowed_hosts(base_url):
        return _refuse(400, "unknown host: use the address in TOCSIN_BASE_URL")
    method, path = request.method.upper(), request.url.path
    if is_exempt(method, path):
        return None
    if method in STATE_CHANGING:
        origin = request.headers.get("origin")
        signed_link = path.startswith(SIGNED_LINK_PREFIX)
        same = {_origin(base_url), f"{request.url.scheme}://{host.lower()}"}
        foreign = origin is not None and origin.lower() not in same
        # `Origin: null` is what a browser sends for our own forms under `Referrer-Policy:
        # no-referrer`: accepted outside `/api/`, where the signed link or the CSRF token decides.
        if foreign and not (origin == "null" and not path.startswith("/api/")):
            return _refuse(403, "cross-site request refused")
        if request.headers.get("sec-fetch-site") == "cross-site":
            return _refuse(403, "cross-site request refused")
        if not signed_link:
            ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if path.startswith("/api/") and ctype != "application/json":
                return _refuse(415, "send Content-Type: application/json")
            if ctype not in FORM_TYPES:
                return _refuse(415, "send an HTML form or Content-Type: application/json")
    if needs_token(path):
        if api_token:
            given = request.headers.get("authorization", "")
            scheme, _, value = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                value.strip().encode(), api_token.encode()
            ):
                return _refuse(401, "missing or wrong bearer token")
        elif not request.client or request.client.host not in LOOPBACK_CLIENTS:
            return _refuse(403, "set TOCSIN_API_TOKEN to use the API from another host")
    return None


def middleware(
    base_url_of: Callable[[], str],
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    """The FastAPI `http` middleware applying `check` before any route runs."""

    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        refusal = check(request, base_url_of(), os.environ.get("TOCSIN_API_TOKEN") or None)
        if refusal is not None:
            if request.url.path.startswith("/api/v1/"):  # its errors are all problem+json
                from alerts.api_v1.problems import problem

                return problem(refusal.status_code, json.loads(bytes(refusal.body))["detail"])
            return refusal
        return await call_next(request)

    return guard


_SECRET_PATH = re.compile(r"(/ack/|/set-password/)[^/?\s\"]+")
_SECRET_QUERY = re.compile(r"([?&](?:t|token)=)[^&\s\"]+")


def redact(path: str) -> str:
    """A request path with signed-link tokens replaced by `…`."""
    return _SECRET_QUERY.sub(r"\1…", _SECRET_PATH.sub(r"\1…", path))


class RedactTokens(logging.Filter):
    """uvicorn access-log filter: the path argument loses its tokens (step 5)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def uvicorn_log_config() -> dict[str, object]:
    """uvicorn's own logging configuration plus `RedactTokens` on the access logger."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_tokens"] = {"()": RedactTokens}
    config["loggers"]["uvicorn.access"]["filters"] = ["redact_tokens"]
    return config
