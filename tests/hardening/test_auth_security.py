"""What an attacker tries against accounts: guessing passwords (the throttle, counted in rows),
forging forms (CSRF, session-bound), stealing cookies (their flags), posing as a user through the
proxy header, and bouncing a login to another site. Real app through TestClient, real SQLite and
PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from alerts.auth import Role, throttle
from alerts.websecurity import RedactTokens
from tests.alerts.authkit import (
    PASSWORD,
    REMOTE,
    add_user,
    app_with_test_routes,
    client,
    form_token,
    login,
    runtime_on,
)
from tests.alerts.scenario import T0, Clock
from worker.runtime import Runtime
from worker.storage.models import LoginAttempt, WebSession


@pytest.fixture
def rt(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    monkeypatch.delenv("TOCSIN_API_TOKEN", raising=False)
    monkeypatch.delenv("TOCSIN_AUTH_PROXY_HEADER", raising=False)
    runtime = runtime_on(db_url, tmp_path)
    yield runtime
    runtime.dispose()


def attempts(rt: Runtime, ok: bool | None = None) -> int:
    with rt.sessions() as s:
        q = select(func.count()).select_from(LoginAttempt)
        if ok is not None:
            q = q.where(LoginAttempt.ok.is_(ok))
        return int(s.scalar(q) or 0)


def test_an_account_is_locked_after_five_failures_then_freed(rt: Runtime, clock: Clock) -> None:
    add_user(rt, "carol", Role.responder)
    c = client(app_with_test_routes(rt, clock))
    for i in range(throttle.PER_NAME):
        clock.now = T0 + timedelta(minutes=i)
        assert login(c, "carol", password=f"guess number {i}").status_code == 401
    assert attempts(rt, ok=False) == throttle.PER_NAME
    # Locked: even the right password is refused, with the same answer as for any name, and the
    # refused tries are not even counted (the lock ends on time).
    clock.now = T0 + timedelta(minutes=5)
    locked = login(c, "carol")
    assert locked.status_code == 429 and "Too many failed attempts" in locked.text
    assert login(c, "CAROL ", password="x").status_code == 429  # same name, folded
    assert attempts(rt) == throttle.PER_NAME
    assert "tocsin_session" not in c.cookies
    # Another address may still log in to another account (the per-account lock is per name).
    add_user(rt, "dave", Role.viewer)
    assert login(client(app_with_test_routes(rt, clock)), "dave").status_code == 303
    # When the first failure leaves the 15-minute window, the account opens again.
    clock.now = T0 + throttle.WINDOW - timedelta(seconds=1)
    assert login(c, "carol").status_code == 429
    clock.now = T0 + throttle.WINDOW + timedelta(seconds=1)
    assert login(c, "carol").status_code == 303


def test_unknown_names_are_throttled_like_known_ones(rt: Runtime, clock: Clock) -> None:
    c = client(app_with_test_routes(rt, clock))
    for i in range(throttle.PER_NAME):
        assert login(c, "ghost", password=f"guess {i}").status_code == 401
    assert login(c, "ghost", password="guess 9").status_code == 429


def test_a_success_resets_the_account_count(rt: Runtime, clock: Clock) -> None:
    add_user(rt, "carol", Role.viewer)
    c = client(app_with_test_routes(rt, clock))
    for i in range(throttle.PER_NAME - 1):
        login(c, "carol", password=f"typo {i}")
    assert login(c, "carol").status_code == 303
    clock.now = T0 + timedelta(minutes=1)
    assert (
        login(client(app_with_test_routes(rt, clock)), "carol", password="typo").status_code == 401
    )
    assert attempts(rt, ok=False) == throttle.PER_NAME
    assert login(client(app_with_test_routes(rt, clock)), "carol").status_code == 303


def test_one_address_guessing_many_names_is_locked(
    rt: Runtime, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(throttle, "PER_CLIENT", 3)  # each try costs an argon2 hash: keep it short
    add_user(rt, "carol", Role.viewer)
    app = app_with_test_routes(rt, clock)
    attacker = client(app, ("198.51.100.7", 1000))
    for name in ("root", "admin", "ops"):
        assert login(attacker, name, password="hunter2hunter2").status_code == 401
    assert login(attacker, "carol").status_code == 429  # even a right guess
    assert login(client(app, ("198.51.100.8", 1000)), "carol").status_code == 303
    assert attempts(rt, ok=False) == 3


def test_login_form_csrf_is_bound_to_the_browser(rt: Runtime, clock: Clock) -> None:
    add_user(rt, "carol", Role.viewer)
    app = app_with_test_routes(rt, clock)
    c, other = client(app), client(app)
    data = {"name": "carol", "password": PASSWORD}
    c.get("/login")
    assert c.post("/login", data=data).status_code == 403
    assert c.post("/login", data={**data, "csrf_token": "0" * 64}).status_code == 403
    stolen = form_token(other.get("/login").text)  # a token for another browser's pre-cookie
    assert c.post("/login", data={**data, "csrf_token": stolen}).status_code == 403
    assert attempts(rt) == 0 and "tocsin_session" not in c.cookies
    assert login(c, "carol").status_code == 303


def test_session_forms_need_the_sessions_own_csrf_token(rt: Runtime, clock: Clock) -> None:
    add_user(rt, "ops", Role.responder)
    add_user(rt, "ops2", Role.responder)
    app = app_with_test_routes(rt, clock)
    a, b = client(app), client(app)
    login(a, "ops")
    login(b, "ops2")
    a_token = form_token(a.get("/logout").text)
    assert a.post("/test/act", data={"note": "x"}).status_code == 403  # no token
    assert a.post("/test/act", data={"csrf_token": "forged"}).status_code == 403
    b_refused = b.post("/test/act", data={"csrf_token": a_token})  # another session's token
    assert b_refused.status_code == 403 and "expired" in b_refused.text
    api = a.post("/api/v1/test/act", json={})  # JSON with the cookie needs X-CSRF-Token
    assert api.status_code == 403 and api.headers["content-type"] == "application/problem+json"
    assert a.post("/test/act", data={"csrf_token": a_token}).json() == {"done_by": "ops"}


def test_a_cross_site_form_never_reaches_a_handler(rt: Runtime, clock: Clock) -> None:
    """The middleware still refuses foreign origins and odd content types; `Origin: null` (our own
    forms under no-referrer) passes outside /api/ and meets the CSRF check there."""
    add_user(rt, "ops", Role.responder)
    c = client(app_with_test_routes(rt, clock))
    login(c, "ops")
    token = form_token(c.get("/logout").text)
    evil = {"Origin": "http://evil.example"}
    assert c.post("/test/act", data={"csrf_token": token}, headers=evil).status_code == 403
    plain = {"Content-Type": "text/plain"}
    assert c.post("/test/act", content=f"csrf_token={token}", headers=plain).status_code == 415
    null = {"Origin": "null"}
    assert c.post("/test/act", data={"csrf_token": token}, headers=null).status_code == 200
    assert c.post("/test/act", data={"note": "x"}, headers=null).status_code == 403
    assert c.post("/api/v1/test/act", json={}, headers=null).status_code == 403  # not under /api/


def test_cookie_flags_follow_the_base_url(
    db_url: str, tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TOCSIN_AUTH_PROXY_HEADER", raising=False)
    https = runtime_on(db_url, tmp_path, base_url="https://tocsin.example.org")
    try:
        add_user(https, "carol", Role.viewer)
        c = client(app_with_test_routes(https, clock), base="https://tocsin.example.org")
        pre = c.get("/login").headers["set-cookie"]
        assert pre.startswith("__Host-tocsin_pre=")
        done = login(c, "carol")
        cookie = done.headers["set-cookie"]
        assert cookie.startswith("__Host-tocsin_session=")
        flags = {p.strip().lower() for p in cookie.split(";")[1:]}
        assert {"httponly", "secure", "path=/", "samesite=lax"} <= flags
        assert not any(f.startswith("domain") for f in flags)
        assert c.get("/test/page").json()["via"] == "session"
    finally:
        https.dispose()
    plain = runtime_on(db_url, tmp_path)  # http (a laptop demo): no Secure, still HttpOnly + Lax
    try:
        c = client(app_with_test_routes(plain, clock))
        cookie = login(c, "carol").headers["set-cookie"]
        flags = {p.strip().lower() for p in cookie.split(";")[1:]}
        assert cookie.startswith("tocsin_session=") and "secure" not in flags
        assert {"httponly", "samesite=lax"} <= flags
    finally:
        plain.dispose()


def test_the_session_cookie_holds_no_database_value(rt: Runtime, clock: Clock) -> None:
    add_user(rt, "carol", Role.viewer)
    c = client(app_with_test_routes(rt, clock))
    login(c, "carol")
    with rt.sessions() as s:
        row = s.scalars(select(WebSession)).one()
    assert c.cookies["tocsin_session"] not in (row.token_hash, row.csrf)


def test_proxy_header_is_trusted_only_when_configured(
    rt: Runtime, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_user(rt, "exec", Role.viewer, password=None)
    add_user(rt, "ops", Role.responder, password=None)
    app = app_with_test_routes(rt, clock)
    c = client(app)
    assert c.get("/test/page", headers={"X-Remote-User": "ops"}).status_code == 303
    monkeypatch.setenv("TOCSIN_AUTH_PROXY_HEADER", "X-Remote-User")
    me = c.get("/test/page", headers={"X-Remote-User": "ops"})
    assert me.json() == {"name": "ops", "role": "responder", "via": "proxy"}
    # The account must exist (its role is the account's); no header, another header: no one.
    assert c.get("/test/page", headers={"X-Remote-User": "stranger"}).status_code == 303
    assert c.get("/test/page", headers={"X-Forwarded-User": "ops"}).status_code == 303
    viewer = {"X-Remote-User": "exec"}
    # A proxy user's forms need a CSRF token too (the proxy adds the header to forged posts).
    as_ops = {"X-Remote-User": "ops"}
    assert c.post("/test/act", data={"note": "x"}, headers=as_ops).status_code == 403
    ops_token = c.get("/test/csrf", headers=as_ops).json()["csrf"]
    assert c.post("/test/act", data={"csrf_token": ops_token}, headers=as_ops).json() == {
        "done_by": "ops"
    }
    exec_token = c.get("/test/csrf", headers=viewer).json()["csrf"]
    assert exec_token != ops_token
    refused = c.post("/test/act", data={"csrf_token": exec_token}, headers=viewer)
    assert refused.status_code == 403


def test_login_never_redirects_to_another_site(rt: Runtime, clock: Clock) -> None:
    add_user(rt, "carol", Role.viewer)
    app = app_with_test_routes(rt, clock)
    for target in ("//evil.example/x", "https://evil.example", "/\\evil.example", "javascript:x"):
        c = client(app)
        assert login(c, "carol", next=target).headers["location"] == "/", target
    assert login(client(app), "carol", next="/incidents/3?x=1").headers["location"] == (
        "/incidents/3?x=1"
    )


def test_set_password_links_are_cut_from_the_access_log() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d',
        ("1.2.3.4", "GET", "/set-password/SeCrEtToKeN123", "1.1", 200), None,
    )  # fmt: skip
    RedactTokens().filter(record)
    assert "SeCrEtToKeN123" not in record.getMessage() and "/set-password/…" in record.getMessage()


def test_remote_strangers_get_no_dashboard_and_no_api(rt: Runtime, clock: Clock) -> None:
    app = app_with_test_routes(rt, clock)
    stranger = client(app, REMOTE)
    assert stranger.get("/").status_code == 303
    assert stranger.get("/api/v1/test/read").status_code == 401
    assert stranger.post("/test/act", data={"note": "x"}).status_code == 303


def test_signed_links_keep_working_without_an_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Accounts exist and the caller has none: the e-mail's acknowledge and packet links still
    work for whoever holds them (single use where they act)."""
    from alerts.tokens import make_view_token
    from tests.alerts.scenario import SECRET, ack_path, make_runtime, open_incident

    monkeypatch.delenv("TOCSIN_API_TOKEN", raising=False)
    runtime = make_runtime(tmp_path)
    try:
        inc_id = open_incident(runtime)
        add_user(runtime, "carol", Role.admin, password=None)
        stranger = client(app_with_test_routes(runtime, Clock()), REMOTE)
        view = make_view_token(SECRET, inc_id, T0 + timedelta(days=1))
        assert stranger.get(f"/incidents/{inc_id}/packet", params={"t": view}).status_code == 200
        path = ack_path(runtime)
        assert stranger.get(path).status_code == 200
        assert "Acknowledged" in stranger.post(path, headers={"Origin": "null"}).text
        assert stranger.post(path, headers={"Origin": "null"}).status_code == 409
        assert stranger.get("/").status_code == 303
    finally:
        runtime.dispose()
