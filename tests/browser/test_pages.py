"""The pages an on-call manager and an executive open on a phone, in a real Chromium.

Debian's `chromium` is driven by Playwright through `executable_path`; nothing is downloaded.
TOCSIN_SKIP_BROWSER=1 skips these with a reason; a missing browser is otherwise an error.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import select

from alerts.tokens import make_view_token
from alerts.web import create_app
from tests.alerts.scenario import SECRET, T0, Clock, ack_path, make_runtime, open_incident
from worker.runtime import Runtime
from worker.storage.models import Incident

CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True}


def chromium_path() -> str:
    if os.environ.get("TOCSIN_SKIP_BROWSER") == "1":
        pytest.skip("TOCSIN_SKIP_BROWSER=1: browser tests not run")
    found = os.environ.get("TOCSIN_CHROMIUM") or shutil.which("chromium")
    if not found:
        pytest.fail("Chromium not found: run `make services` (installs Debian's chromium)")
    return found


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    rt = make_runtime(tmp_path)
    yield rt
    rt.dispose()


@contextmanager
def served(app: Any) -> Iterator[str]:
    """`app` served by uvicorn on a free loopback port, in a thread; yields its base URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "web app did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def launched() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (`executable_path`)."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def base_url(runtime: Runtime) -> Iterator[str]:
    with served(create_app(lambda: runtime, clock=Clock())) as url:
        yield url


@pytest.fixture
def page(tmp_path: Path):  # type: ignore[no-untyped-def]

    with launched() as browser:
        context = browser.new_context(**PHONE)
        pg = context.new_page()
        dialogs: list[str] = []
        pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        pg.dialogs = dialogs  # type: ignore[attr-defined]
        yield pg
        context.close()


def screenshot(page: Any, path: Path) -> None:
    """A full-page screenshot for a person to look at. Chromium now and then answers
    "Unable to capture screenshot" to a full-page capture (its own intermittent failure, not the
    page's); the capture is tried again, twice at most, and any other error is raised at once."""
    from playwright.sync_api import Error

    path.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(3):
        try:
            page.screenshot(path=str(path), full_page=True)
            return
        except Error as exc:
            if "Unable to capture screenshot" not in str(exc) or attempt == 2:
                raise
            time.sleep(0.2)


def fits_the_screen(pg) -> bool:  # type: ignore[no-untyped-def]
    return bool(pg.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


def test_one_tap_acknowledge_on_a_phone(runtime: Runtime, base_url: str, page) -> None:  # type: ignore[no-untyped-def]
    inc_id = open_incident(runtime)
    page.goto(base_url + ack_path(runtime))
    button = page.get_by_role("button", name="Acknowledge")
    assert button.is_visible()
    assert fits_the_screen(page)
    with runtime.sessions() as s:
        assert s.get(Incident, inc_id).state == "triggered"  # type: ignore[union-attr]
    button.click()
    page.wait_for_selector("text=escalation stopped")
    with runtime.sessions() as s:
        inc = s.scalars(select(Incident)).one()
        assert inc.state == "acknowledged" and inc.acknowledged_by == "alice"
    assert page.dialogs == []  # the hostile mention text never ran


def test_packet_reads_on_a_phone_and_runs_no_mention_script(
    runtime: Runtime,
    base_url: str,
    page,  # type: ignore[no-untyped-def]
) -> None:
    inc_id = open_incident(runtime)
    view = make_view_token(SECRET, inc_id, T0.replace(year=T0.year + 1))
    page.goto(f"{base_url}/incidents/{inc_id}/packet?t={view}")
    body = page.inner_text("body")
    assert "Acme <Corp>" in body  # shown as text, not markup
    assert '<script>alert("x")</script>' in body
    assert page.dialogs == []
    assert page.evaluate("document.querySelectorAll('script').length") == 0
    assert fits_the_screen(page)
