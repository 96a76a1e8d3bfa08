"""Accounts, sessions, roles and personal tokens through the real app (TestClient), on real SQLite
and PostgreSQL: log in and out, the role each dependency demands, tokens scoped by role, the
one-time set-password link, and the `tocsin user` / `tocsin token` commands."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from alerts.auth import Role, create_token
from alerts.auth.accounts import AccountError, disable_user, revoke_tokens
from tests.alerts.authkit import (
    LOCAL,
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
from worker.storage.models import ApiToken, User, WebSession


@pytest.fixture
def rt(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    monkeypatch.delenv("TOCSIN_API_TOKEN", raising=False)
    monkeypatch.delenv("TOCSIN_AUTH_PROXY_HEADER", raising=False)
    runtime = runtime_on(db_url, tmp_path)
    yield runtime
    runtime.dispose()


def sessions_of(rt: Runtime) -> int:
    with rt.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(WebSession)) or 0)


def test_login_opens_a_session_and_logout_ends_it(rt: Runtime, clock: Clock) -> None:
    add_user(rt, "carol", Role.responder)
    c = client(app_with_test_routes(rt, clock))
    first = c.get("/test/page")
    assert first.status_code == 303 and first.headers["location"] == "/login?next=%2Ftest%2Fpage"
    done = login(c, "carol", next="/test/page")
    assert done.status_code == 303 and done.headers["location"] == "/test/page"
    assert c.get("/test/page").json() == {"name": "carol", "role": "responder", "via": "session"}
    assert sessions_of(rt) == 1
    # The dashboard route is guarded by the same dependency.
    assert c.get("/").status_code == 200
    # Logout needs the session's CSRF token, deletes the row and clears the cookie.
    token = form_token(c.get("/logout").text)
    assert c.post("/logout", data={"csrf_token": "wrong"}).status_code == 403
    assert sessions_of(rt) == 1
    out = c.post("/logout", data={"csrf_token": token})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert sessions_of(rt) == 0
    assert c.get("/test/page").status_code == 303


def test_a_stolen_cookie_is_useless_after_logout_and_after_expiry(
    rt: Runtime, clock: Clock
) -> None:
    add_user(rt, "carol", Role.viewer)
    app = app_with_test_routes(rt, clock)
    c = client(app)
    login(c, "carol")
    cookie = c.cookies["tocsin_session"]
    thief = client(app)
    thief.cookies.set("tocsin_session", cookie)
    assert thief.get("/test/page").status_code == 200
    clock.now = T0 + timedelta(days=7)  # SESSION_VALID
    assert thief.get("/test/page").status_code == 303
    clock.now = T0
    c.post("/logout", data={"csrf_token": form_token(c.get("/logout").text)})
    assert thief.get("/test/page").status_code == 303


def test_wrong_password_and_unknown_account_get_the_same_answer(rt: Runtime, clock: Clock) -> None:
    add_user(rt, "carol", Role.viewer)
    c = client(app_with_test_routes(rt, clock))
    wrong = login(c, "carol", password="not the password")
    unknown = login(c, "mallory", password="not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong account name or password." in wrong.text
    assert wrong.text.replace("carol", "X") == unknown.text.replace("mallory", "X")
    assert "tocsin_session" not in c.cookies
    assert sessions_of(rt) == 0


def test_viewer_cannot_act_responder_can(rt: Runtime, clock: Clock) -> None:
    add_user(rt, "exec", Role.viewer)
    add_user(rt, "ops", Role.responder)
    app = app_with_test_routes(rt, clock)
    viewer, responder = client(app), client(app)
    login(viewer, "exec")
    login(responder, "ops")
    # Each has a valid CSRF token (from a page they may see): the role alone decides.
    v_token = form_token(viewer.get("/logout").text)
    r_token = form_token(responder.get("/logout").text)
    refused = viewer.post("/test/act", data={"csrf_token": v_token})
    assert refused.status_code == 403 and "Not allowed" in refused.text
    assert responder.post("/test/act", data={"csrf_token": r_token}).json() == {"done_by": "ops"}
    noted = responder.post("/test/note", data={"csrf_token": r_token, "note": "<b>on it</b>"})
    assert noted.json() == {"by": "ops", "note": "<b>on it</b>"}
    # A JSON call with the session cookie sends X-CSRF-Token instead of a form field.
    assert (
        viewer.post("/api/v1/test/act", json={}, headers={"X-CSRF-Token": v_token}).status_code
        == 403
    )
    ok = responder.post("/api/v1/test/act", json={}, headers={"X-CSRF-Token": r_token})
    assert ok.json() == {"done_by": "ops"}
    assert responder.get("/api/v1/test/read").json() == {"name": "ops", "via": "session"}


def test_bearer_tokens_act_with_their_accounts_role(rt: Runtime, clock: Clock) -> None:
    add_user(rt, "exec", Role.viewer, password=None)
    add_user(rt, "ops", Role.responder, password=None)
    with rt.sessions.begin() as s:
        viewer_token = create_token(s, "exec", T0)
        ops_token = create_token(s, "ops", T0)
    c = client(app_with_test_routes(rt, clock))

    def call(method: str, path: str, token: str | None) -> tuple[int, str]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = c.request(method, path, json={} if method == "POST" else None, headers=headers)
        return r.status_code, r.headers.get("content-type", "")

    assert call("GET", "/api/v1/test/read", None) == (401, "application/problem+json")
    assert call("GET", "/api/v1/test/read", "tcn_not-a-token")[0] == 401
    assert call("GET", "/api/v1/test/read", viewer_token)[0] == 200
    assert call("POST", "/api/v1/test/act", viewer_token) == (403, "application/problem+json")
    # No CSRF token needed with a bearer token (a browser never sends one by itself).
    assert call("POST", "/api/v1/test/act", ops_token)[0] == 200
    assert call("POST", "/api/v1/test/admin", ops_token)[0] == 403
    unauth = c.get("/api/v1/test/read")
    assert unauth.headers["www-authenticate"].startswith("Bearer")
    assert unauth.json()["status"] == 401
    # Stored hashed: the token itself is in no row. Its last use is kept (to the minute).
    with rt.sessions() as s:
        hashes = list(s.scalars(select(ApiToken.token_hash)))
        assert set(s.scalars(select(ApiToken.last_used_at))) == {T0}
    assert len(hashes) == 2 and viewer_token not in hashes and ops_token not in hashes
    # Revoked, or its account disabled: refused.
    with rt.sessions.begin() as s:
        assert revoke_tokens(s, "exec", T0) == 1
        disable_user(s, "ops")
    assert call("GET", "/api/v1/test/read", viewer_token)[0] == 401
    assert call("POST", "/api/v1/test/act", ops_token)[0] == 401


def test_set_password_link_works_once_and_expires(rt: Runtime, clock: Clock) -> None:
    path = add_user(rt, "dana", Role.responder, password=None)
    late_path = add_user(rt, "erin", Role.viewer, password=None)
    c = client(app_with_test_routes(rt, clock))
    assert "Wrong account" in login(c, "dana", password="").text  # no password yet
    form = c.get(path)
    assert form.status_code == 200 and "dana" in form.text
    token = form_token(form.text)
    short = c.post(path, data={"csrf_token": token, "password": "short", "confirm": "short"})
    assert short.status_code == 400 and "at least 10" in short.text
    differ = c.post(
        path, data={"csrf_token": token, "password": PASSWORD, "confirm": PASSWORD + "x"}
    )
    assert differ.status_code == 400
    no_csrf = c.post(path, data={"password": PASSWORD, "confirm": PASSWORD})
    assert no_csrf.status_code == 403
    done = c.post(path, data={"csrf_token": token, "password": PASSWORD, "confirm": PASSWORD})
    assert done.status_code == 303 and done.headers["location"] == "/login?set=1"
    assert c.get(path).status_code == 404  # used: gone
    again = c.post(path, data={"csrf_token": token, "password": "x" * 12, "confirm": "x" * 12})
    assert again.status_code == 404
    assert login(c, "dana").status_code == 303
    # Expiry: 24 hours after it was made, to the second (time is the app's clock).
    other = client(app_with_test_routes(rt, clock))
    clock.now = T0 + timedelta(hours=24) - timedelta(seconds=1)
    assert other.get(late_path).status_code == 200
    clock.now = T0 + timedelta(hours=24)
    assert other.get(late_path).status_code == 410
    t = form_token(other.get("/login").text)
    expired = other.post(
        late_path, data={"csrf_token": t, "password": PASSWORD, "confirm": PASSWORD}
    )
    assert expired.status_code == 410
    with rt.sessions() as s:
        erin = s.scalar(select(User).where(User.name == "erin"))
        assert erin is not None and erin.password_hash is None


def test_passwords_are_argon2_hashes(rt: Runtime) -> None:
    add_user(rt, "carol", Role.viewer)
    with rt.sessions() as s:
        stored = s.scalar(select(User.password_hash).where(User.name == "carol"))
    assert stored is not None and stored.startswith("$argon2id$") and PASSWORD not in stored


def test_loopback_is_a_local_admin_only_until_the_first_account(rt: Runtime, clock: Clock) -> None:
    app = app_with_test_routes(rt, clock)
    local, remote = client(app, LOCAL), client(app, REMOTE)
    assert local.get("/test/page").json() == {"name": "local", "role": "admin", "via": "local"}
    assert remote.get("/test/page").status_code == 303
    add_user(rt, "carol", Role.admin, password=None)
    assert local.get("/test/page").status_code == 303


def test_account_names_and_roles_are_checked(rt: Runtime) -> None:
    with pytest.raises(AccountError, match="account name"):
        add_user(rt, "<script>", Role.viewer)
    add_user(rt, "carol", Role.viewer, password=None)
    with pytest.raises(AccountError, match="already exists"):
        add_user(rt, "carol", Role.admin)
    with pytest.raises(AccountError, match="role 'boss'"):
        Role.parse("boss")
    assert Role.parse("Responder") is Role.responder and Role.admin > Role.responder > Role.viewer


def test_account_events_are_logged_without_secrets(
    rt: Runtime, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tocsin.auth")
    path = add_user(rt, "carol", Role.responder, password=None)
    c = client(app_with_test_routes(rt, clock))
    t = form_token(c.get(path).text)
    c.post(path, data={"csrf_token": t, "password": PASSWORD, "confirm": PASSWORD})
    login(c, "carol", password="Wrong-guess-123")
    login(c, "carol")
    c.post("/logout", data={"csrf_token": form_token(c.get("/logout").text)})
    with rt.sessions.begin() as s:
        token = create_token(s, "carol", T0)
    text = "\n".join(str(r.msg) for r in caplog.records)
    for event in ("account_created", "account_password_set", "login_failed", "login_ok", "logout",
                  "token_created"):  # fmt: skip
        assert event in text, event
    for secret in (PASSWORD, "Wrong-guess-123", token, path.rsplit("/", 1)[1]):
        assert secret not in text


def test_user_and_token_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    from tocsin.user_cli import token_main, user_main

    monkeypatch.setenv("TOCSIN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TOCSIN_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("TOCSIN_SECRET_KEY", "x" * 32)
    monkeypatch.setenv("TOCSIN_BASE_URL", "https://tocsin.example.org/")

    def run(main, *argv: str) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
        out, err = io.StringIO(), io.StringIO()
        return main(list(argv), stdout=out, stderr=err), out.getvalue(), err.getvalue()

    code, out, _ = run(user_main, "add", "alice", "--role", "admin")
    assert code == 0
    link = out.strip().splitlines()[-1]
    assert link.startswith("https://tocsin.example.org/set-password/") and len(link) > 60
    assert run(user_main, "add", "alice", "--role", "viewer")[0] == 2
    code, _, err = run(user_main, "add", "bob", "--role", "boss")
    assert code == 2 and "role 'boss'" in err
    code, out, _ = run(token_main, "create", "--user", "alice")
    assert code == 0 and out.strip().splitlines()[-1].startswith("tcn_")
    code, _, err = run(token_main, "create", "--user", "nobody")
    assert code == 2 and "no account named 'nobody'" in err
    code, out, _ = run(user_main, "list", "--json")
    rows = json.loads(out)
    assert [(r["name"], r["role"], r["password_set"], r["tokens"]) for r in rows] == [
        ("alice", "admin", False, 1)
    ]
    assert run(user_main, "role", "alice", "viewer")[0] == 0
    assert run(token_main, "revoke", "--user", "alice")[1].startswith("revoked 1 token")
    assert run(user_main, "remove", "alice")[0] == 0
    rows = json.loads(run(user_main, "list", "--json")[1])
    assert rows[0]["role"] == "viewer" and rows[0]["disabled"] and rows[0]["tokens"] == 0


def test_two_racing_posts_of_one_link_set_one_password(rt: Runtime) -> None:
    """Both read the link as valid before either writes: the second finds it spent."""
    from alerts.auth.accounts import set_password, user_for_setup

    token = add_user(rt, "dana", Role.viewer, password=None).rsplit("/", 1)[1]
    with rt.sessions() as s:
        a, _ = user_for_setup(s, token, T0)
    with rt.sessions() as s:
        b, _ = user_for_setup(s, token, T0)
    assert a is not None and b is not None
    with rt.sessions.begin() as s:
        set_password(s, a, PASSWORD, T0)
    with rt.sessions.begin() as s, pytest.raises(AccountError, match="already used"):
        set_password(s, b, "the attacker's choice", T0)
    with rt.sessions() as s:
        user = s.scalar(select(User).where(User.name == "dana"))
        assert user is not None and user.setup_hash is None
        from alerts.auth.accounts import verify_password

        assert verify_password(user, PASSWORD)
