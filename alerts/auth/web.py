"""Who is calling, and may they: the web side of accounts (issue #16).

`Auth.principal(request)` recognises, in this order:
1. `Authorization: Bearer <personal token>` (`via="token"`). A bearer header that is not a valid
   personal token gives no principal: it never falls back to a cookie.
2. `TOCSIN_AUTH_PROXY_HEADER` (`via="proxy"`), only when that variable is set: the header names an
   existing, enabled account, which gives the role. A name with no account gives no principal
   (logged); tocsin never creates accounts from a header. The proxy must strip the header from
   what clients send, and tocsin must be reachable only through it (docs/accounts.md).
3. The session cookie (`via="session"`): a random token whose SHA-256 names a `web_sessions` row,
   valid until its `expires_at` (`SESSION_VALID`, not extended), ended by logout.
4. `via="local"`: an `admin` called "local" for a loopback client while no account exists yet, so
   a fresh install or the demo opens without setup. The first `tocsin user add` ends it.

`page(role)` and `api(role)` are FastAPI dependencies: no principal gives 303 to `/login?next=…`
(pages) or 401 (API, `application/problem+json`); a role too low gives 403. For a state change
(POST, PUT, PATCH, DELETE) both also check the CSRF token (the form field `csrf_token` or the
header `X-CSRF-Token`), except for bearer-token calls, which a browser never sends by itself.

CSRF tokens: a session's token is random and stored in its row; a proxy or local principal's is
an HMAC of the secret key and its name; the login and set-password forms use an HMAC of a random
pre-session cookie. A cross-site page can read none of them.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import delete, select

from alerts.auth import throttle
from alerts.auth.accounts import (
    AccountError,
    Principal,
    Role,
    check_password_rules,
    get_user,
    has_users,
    hash_password,
    principal_for_token,
    rehash_if_needed,
    set_password,
    sha256,
    user_for_setup,
    verify_password,
)
from alerts.channels.render import env
from worker.logs import get_logger
from worker.runtime import Runtime
from worker.storage.models import User, WebSession

log = get_logger("tocsin.auth")

SESSION_VALID = timedelta(days=7)
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOOPBACK_CLIENTS = frozenset({"127.0.0.1", "::1"})
FORM_MAX = 64 * 1024
PROXY_ENV = "TOCSIN_AUTH_PROXY_HEADER"
_UNSET = object()


class AuthRefusal(HTTPException):
    """Raised by the dependencies; carries the response to send (a redirect, an HTML page or a
    problem+json document). `alerts.web` registers `refusal_handler` for it; without the handler
    FastAPI still answers with the same status and headers."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code, headers=dict(response.headers))
        self.response = response


async def refusal_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AuthRefusal)
    return exc.response


def problem(status: int, title: str, detail: str, **headers: str) -> JSONResponse:
    """An RFC 9457 problem document."""
    return JSONResponse(
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
        headers=headers or None,
    )


def html_page(status: int, heading: str, *lines: str) -> HTMLResponse:
    return HTMLResponse(
        env().get_template("page.html").render(heading=heading, lines=list(lines)),
        status_code=status,
    )


def safe_next(value: str | None) -> str:
    """Where to go after logging in: a path on this site only (no `//host`, no scheme)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or any(ord(c) < 32 for c in value):
        return "/"
    return value


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class Auth:
    def __init__(self, rt_of: Callable[[], Runtime], now_of: Callable[[], datetime]) -> None:
        self.rt_of = rt_of
        self.now_of = now_of
        self.router = self._build_router()

    # -- cookies ---------------------------------------------------------------------------

    def _secure(self) -> bool:
        return self.rt_of().settings.base_url.lower().startswith("https://")

    def _cookie(self, name: str) -> str:
        # `__Host-` (https only): the browser refuses the cookie unless Secure, Path=/ and no
        # Domain, so a sibling sub-domain cannot plant or overwrite it.
        return f"__Host-{name}" if self._secure() else name

    @property
    def session_cookie(self) -> str:
        return self._cookie("tocsin_session")

    @property
    def pre_cookie(self) -> str:
        return self._cookie("tocsin_pre")

    def _set_cookie(self, response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            secure=self._secure(),
            httponly=True,
            samesite="lax",
        )

    def _mac(self, message: str) -> str:
        key = self.rt_of().settings.secret_key.encode()
        return hmac.new(key, message.encode(), "sha256").hexdigest()

    # -- who is calling --------------------------------------------------------------------

    def principal(self, request: Request) -> Principal | None:
        cached = getattr(request.state, "tocsin_principal", _UNSET)
        if cached is not _UNSET:
            return cached  # type: ignore[return-value]
        found = self._find_principal(request)
        request.state.tocsin_principal = found
        return found

    def _find_principal(self, request: Request) -> Principal | None:
        rt, now = self.rt_of(), self.now_of()
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            with rt.sessions.begin() as session:
                return principal_for_token(session, value.strip(), now)
        header = self._proxy_header()
        if header and request.headers.get(header):
            name = request.headers[header].strip()
            with rt.sessions() as session:
                user = get_user(session, name)
            if user is None or user.disabled:
                log.warning("proxy_user_refused", account_known=user is not None)
                return None
            return Principal(user.name, Role[user.role], "proxy")
        cookie = request.cookies.get(self.session_cookie)
        if cookie:
            with rt.sessions() as session:
                row = session.execute(
                    select(WebSession, User)
                    .join(User, User.id == WebSession.user_id)
                    .where(WebSession.token_hash == sha256(cookie))
                ).first()
            if row is not None:
                ws, user = row
                if now < ws.expires_at and not user.disabled:
                    request.state.tocsin_csrf = ws.csrf
                    return Principal(user.name, Role[user.role], "session")
        if request.client and request.client.host in LOOPBACK_CLIENTS:
            with rt.sessions() as session:
                if not has_users(session):
                    return Principal("local", Role.admin, "local")
        return None

    @staticmethod
    def _proxy_header() -> str | None:
        import os

        value = os.environ.get(PROXY_ENV, "").strip()
        return value or None

    # -- dependencies ----------------------------------------------------------------------

    def page(self, role: Role = Role.viewer) -> Callable[..., Awaitable[Principal]]:
        async def dependency(request: Request) -> Principal:
            p = await run_in_threadpool(self.principal, request)
            if p is None:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                raise AuthRefusal(
                    RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
                )
            if p.role < role:
                log.info("refused_role", account=p.name, role=p.role.name, needed=role.name)
                raise AuthRefusal(
                    html_page(
                        403,
                        "Not allowed",
                        f"Your account ({p.role.name}) cannot do this; it needs {role.name}.",
                        "Ask an admin if you should.",
                    )
                )
            if request.method in STATE_CHANGING:
                self.check_csrf(request, await self._posted_csrf(request))
            return p

        return dependency

    def api(self, role: Role = Role.viewer) -> Callable[..., Awaitable[Principal]]:
        async def dependency(request: Request) -> Principal:
            p = await run_in_threadpool(self.principal, request)
            if p is None:
                raise AuthRefusal(
                    problem(
                        401,
                        "Unauthorized",
                        "send Authorization: Bearer <personal token> (tocsin token create)",
                        **{"WWW-Authenticate": 'Bearer realm="tocsin"'},
                    )
                )
            if p.role < role:
                raise AuthRefusal(
                    problem(403, "Forbidden", f"role {p.role.name} may not; needs {role.name}")
                )
            if request.method in STATE_CHANGING:
                self.check_csrf(request, request.headers.get("x-csrf-token"))
            return p

        return dependency

    # -- CSRF ------------------------------------------------------------------------------

    def csrf_token(self, request: Request) -> str:
        p = self.principal(request)
        if p is not None and p.via == "session":
            return str(request.state.tocsin_csrf)
        if p is not None and p.via in ("proxy", "local"):
            return self._mac(f"csrf:{p.via}:{p.name}")
        pre = getattr(request.state, "tocsin_pre", None) or request.cookies.get(self.pre_cookie)
        return self._mac(f"csrf:anon:{pre}") if pre else ""

    def check_csrf(self, request: Request, token: str | None) -> None:
        p = self.principal(request)
        if p is not None and p.via == "token":
            return
        if token is None:
            token = request.headers.get("x-csrf-token")
        expected = self.csrf_token(request)
        if not expected or not token or not hmac.compare_digest(expected, token):
            log.info("csrf_refused", account=p.name if p else None, path=request.url.path)
            if request.url.path.startswith("/api/"):
                raise AuthRefusal(problem(403, "Forbidden", "missing or wrong CSRF token"))
            raise AuthRefusal(
                html_page(
                    403,
                    "This form has expired",
                    "Go back, reload the page and try again.",
                )
            )

    async def _posted_csrf(self, request: Request) -> str | None:
        header = request.headers.get("x-csrf-token")
        if header:
            return header
        return (await read_form(request)).get("csrf_token")

    # -- pages -----------------------------------------------------------------------------

    def _render(self, template: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        return HTMLResponse(env().get_template(template).render(**ctx), status_code=status)

    def _with_pre(self, request: Request) -> str:
        """The pre-session cookie value (made now if the browser has none yet)."""
        pre = request.cookies.get(self.pre_cookie) or secrets.token_urlsafe(24)
        request.state.tocsin_pre = pre
        return pre

    def _anon_page(self, request: Request, template: str, status: int, **ctx: Any) -> HTMLResponse:
        pre = self._with_pre(request)
        response = self._render(template, status, csrf_token=self._mac(f"csrf:anon:{pre}"), **ctx)
        self._set_cookie(response, self.pre_cookie, pre, max_age=24 * 3600)
        return response

    def _check_anon_csrf(self, request: Request, token: str | None) -> bool:
        pre = request.cookies.get(self.pre_cookie)
        expected = self._mac(f"csrf:anon:{pre}") if pre else ""
        return bool(expected and token and hmac.compare_digest(expected, token))

    def _try_login(self, name: str, password: str, client: str) -> tuple[str, str | None]:
        """("locked" | "wrong" | "ok", the new session's cookie token). The attempt is counted as
        a failure *before* the password is checked (and turned into a success after), so
        attempts running at the same time count against each other; no transaction stays open
        during the argon2 verification."""
        rt, now = self.rt_of(), self.now_of()
        with rt.sessions.begin() as session:
            lock = throttle.locked(session, name, client, now)
            if lock is not None:
                log.warning("login_throttled", client=client, by=lock.by)
                return "locked", None
            user = get_user(session, name) if name else None
            attempt = throttle.record(session, name, client, False, now)
        if not verify_password(user, password) or user is None:
            log.info(
                "login_failed",
                account=user.name if user is not None else None,
                account_known=user is not None,
                client=client,
            )
            return "wrong", None
        token = secrets.token_urlsafe(32)
        with rt.sessions.begin() as session:
            throttle.succeeded(session, attempt)
            account = session.get(User, user.id)
            if account is None or account.disabled:  # disabled while we were checking
                return "wrong", None
            rehash_if_needed(account, password)
            session.execute(delete(WebSession).where(WebSession.expires_at <= now))
            session.add(
                WebSession(
                    token_hash=sha256(token),
                    user_id=account.id,
                    csrf=secrets.token_urlsafe(32),
                    created_at=now,
                    expires_at=now + SESSION_VALID,
                    client=client[:100],
                )
            )
        log.info("login_ok", account=user.name, client=client)
        return "ok", token

    def _set_password(self, request: Request, token: str, form: dict[str, str]) -> Response:
        rt, now = self.rt_of(), self.now_of()
        with rt.sessions() as session:
            user, why = user_for_setup(session, token, now)
        if user is None:
            return _bad_link(why)
        name = user.name

        def again(status: int, error: str) -> Response:
            return self._anon_page(request, "set_password.html", status, name=name, error=error)

        if not self._check_anon_csrf(request, form.get("csrf_token")):
            return again(403, "This form has expired. Try again.")
        password = form.get("password", "")
        if password != form.get("confirm", ""):
            return again(400, "The two passwords differ.")
        try:
            check_password_rules(password)
            hashed = hash_password(password)  # no transaction open while it runs
            with rt.sessions.begin() as session:
                set_password(session, user, password, now, hashed=hashed)
        except AccountError as exc:
            return again(400, str(exc))
        return RedirectResponse("/login?set=1", status_code=303)

    def _build_router(self) -> APIRouter:
        router = APIRouter()

        @router.get("/login", response_class=HTMLResponse)
        def login_form(request: Request, next: str = "/", set: str = "") -> Response:
            p = self.principal(request)
            if p is not None and p.via == "session":
                return RedirectResponse(safe_next(next), status_code=303)
            notice = "Password set. Log in with it." if set else None
            return self._anon_page(request, "login.html", 200, next=safe_next(next), notice=notice)

        @router.post("/login", response_class=HTMLResponse)
        async def login(request: Request) -> Response:
            form = await read_form(request)
            name, password = form.get("name", "").strip(), form.get("password", "")
            target = safe_next(form.get("next"))
            client = client_of(request)
            if not self._check_anon_csrf(request, form.get("csrf_token")):
                log.info("login_refused_csrf", client=client)
                return self._anon_page(
                    request, "login.html", 403, next=target, name=name,
                    error="This form has expired. Try again.",
                )  # fmt: skip
            # Off the event loop: one argon2 verification takes about half a second.
            outcome, token = await run_in_threadpool(self._try_login, name, password, client)
            if outcome == "locked":
                return self._anon_page(
                    request, "login.html", 429, next=target, name=name,
                    error="Too many failed attempts. Wait a few minutes and try again.",
                )  # fmt: skip
            if outcome != "ok" or token is None:
                return self._anon_page(
                    request, "login.html", 401, next=target, name=name,
                    error="Wrong account name or password.",
                )  # fmt: skip
            response = RedirectResponse(target, status_code=303)
            self._set_cookie(
                response, self.session_cookie, token, int(SESSION_VALID.total_seconds())
            )
            return response

        @router.get("/logout", response_class=HTMLResponse)
        def logout_form(request: Request) -> Response:
            p = self.principal(request)
            if p is None or p.via != "session":
                return RedirectResponse("/login", status_code=303)
            return self._render("logout.html", name=p.name, csrf_token=self.csrf_token(request))

        @router.post("/logout", response_class=HTMLResponse)
        async def logout(request: Request) -> Response:
            form = await read_form(request)
            p = self.principal(request)
            if p is None or p.via != "session":
                return RedirectResponse("/login", status_code=303)
            self.check_csrf(request, form.get("csrf_token"))
            cookie = request.cookies.get(self.session_cookie, "")
            with self.rt_of().sessions.begin() as session:
                session.execute(delete(WebSession).where(WebSession.token_hash == sha256(cookie)))
            log.info("logout", account=p.name, client=client_of(request))
            response = RedirectResponse("/login", status_code=303)
            response.delete_cookie(
                self.session_cookie, path="/", secure=self._secure(), httponly=True, samesite="lax"
            )
            return response

        @router.get("/set-password/{token}", response_class=HTMLResponse)
        def set_password_form(request: Request, token: str) -> Response:
            with self.rt_of().sessions() as session:
                user, why = user_for_setup(session, token, self.now_of())
                name = user.name if user is not None else ""
            if user is None:
                return _bad_link(why)
            return self._anon_page(request, "set_password.html", 200, name=name)

        @router.post("/set-password/{token}", response_class=HTMLResponse)
        async def set_password_do(request: Request, token: str) -> Response:
            form = await read_form(request)
            # Off the event loop: hashing the new password takes about half a second.
            return await run_in_threadpool(self._set_password, request, token, form)

        return router


def _bad_link(why: str) -> HTMLResponse:
    if why == "expired":
        return html_page(
            410, "This link has expired", "Ask an admin for a new one (tocsin user reset NAME)."
        )
    return html_page(
        404, "This link is not valid", "It was already used, or it was cut. Ask an admin."
    )


async def read_form(request: Request) -> dict[str, str]:
    """An `application/x-www-form-urlencoded` body as a dict (first value of each field); empty
    for any other content type. (No multipart: tocsin's forms never upload files.)"""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        return {}
    parsed = getattr(request, "_form", None)  # already parsed by FastAPI for `Form(...)` fields
    if parsed is not None:
        return {k: v for k, v in parsed.items() if isinstance(v, str)}
    body = await request.body()
    if len(body) > FORM_MAX:
        raise AuthRefusal(html_page(413, "Form too large"))
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in fields.items() if v}
