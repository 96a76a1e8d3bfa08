"""A new account in a real Chromium on a phone: set the password from the one-time link, log in,
reach the dashboard, log out. Proves what a browser really sends passes the web app's guard
(`Origin: null` under no-referrer, form posts, the cookie flags). Screenshots go to
.tocsin/screenshots/ for a person to look at."""

from __future__ import annotations

from pathlib import Path

from alerts.auth import Role, create_user
from tests.alerts.scenario import T0
from tests.browser.test_pages import (  # noqa: F401 - fixtures
    base_url,
    fits_the_screen,
    page,
    runtime,
    screenshot,
)
from worker.runtime import Runtime

SHOTS = Path(__file__).parents[2] / ".tocsin" / "screenshots"
PASSWORD = "a long phone password"


def test_set_password_log_in_and_out_on_a_phone(runtime: Runtime, base_url: str, page) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    with runtime.sessions.begin() as s:
        link = create_user(s, "dana", Role.responder, T0)

    page.goto(base_url + "/")
    assert page.url == f"{base_url}/login?next=%2F"  # an account exists: no local admin

    page.goto(base_url + link)
    assert "Account dana" in page.inner_text("body") and fits_the_screen(page)
    screenshot(page, SHOTS / "set-password-390.png")
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.click("button[type=submit]")
    assert page.url == f"{base_url}/login?set=1"
    assert "Password set" in page.inner_text("body")

    page.fill("#name", "dana")
    page.fill("#password", "not my password")
    page.click("button[type=submit]")
    assert "Wrong account name or password." in page.inner_text("body")
    assert fits_the_screen(page)
    screenshot(page, SHOTS / "login-error-390.png")

    page.fill("#name", "dana")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    assert page.url == f"{base_url}/"
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "tocsin_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert page.evaluate("document.cookie").find("tocsin_session") == -1  # not readable by script

    page.goto(base_url + "/logout")
    page.click("button[type=submit]")
    assert page.url == f"{base_url}/login"
    page.goto(base_url + "/")
    assert page.url == f"{base_url}/login?next=%2F"
    assert page.dialogs == []
