"""The dashboard in a real Chromium: a responder logs in, sees the open incident on the overview
and acknowledges it; a viewer with the incident page open sees the timeline change without
reloading and has no action button; hostile mention text stays text (no dialog fires); every
page fits 390 px and 1280 px without sideways scrolling. Screenshots go to
.tocsin/screenshots/dashboard-*.png for a person to look at."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from alerts.actions import add_note
from alerts.auth import Role
from alerts.packets import refresh_packets
from alerts.service import observe
from alerts.web import create_app
from tests.alerts.authkit import PASSWORD, add_user, runtime_on
from tests.alerts.scenario import T0, open_incident
from tests.browser.test_pages import fits_the_screen, launched, screenshot, served
from worker.ingest import ingest_page
from worker.model import Evidence, Mention, Signal
from worker.pipeline import store_signals
from worker.runtime import Runtime
from worker.storage.db import upgrade
from worker.storage.models import Source


def ev() -> Evidence:
    return Evidence(T0 + timedelta(minutes=5), T0 + timedelta(minutes=10), 40, 3, 1, 6, 1e-9)


SHOTS = Path(__file__).parents[2] / ".tocsin" / "screenshots"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
RAW = "<img src=x onerror=alert(1)>"
PAGES = [
    "/",
    "/topics/acme",
    "/incidents",
    "/incidents/1",
    "/oncall",
    "/sources",
    "/reports",
    "/settings",
]


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    url = f"sqlite:///{tmp_path / 'tocsin.db'}"
    upgrade(url)
    rt = runtime_on(url, tmp_path)
    with rt.sessions.begin() as s:  # four calm days before, so the usual band shows
        history = [
            Mention(
                "mastodon",
                f"h{d}-{h}-{k}",
                T0 - timedelta(days=d, hours=h),
                f"lamp ok {k}",
                author=f"u{k}",
                lang="en",
            )
            for d in range(1, 5)
            for h in range(24)
            for k in range(1 + (h + d) % 3)
        ]
        ingest_page(s, history, T0, bucket_seconds=300, topic="acme")
        s.add(
            Source(
                topic="acme",
                platform="mastodon",
                query="#acme",
                healthy=False,
                health="rate_limited",
                last_success_at=T0 - timedelta(minutes=40),
                consecutive_failures=3,
                last_error="429 Too Many Requests",
            )
        )
    open_incident(rt)
    with rt.sessions.begin() as s:  # hostile text in the live timeline too
        add_note(s, 1, text=f"Customer wrote {RAW}", by="alice", via="cli", now=T0)
    add_user(rt, "rita", Role.responder)
    add_user(rt, "vera", Role.viewer)
    yield rt
    rt.dispose()


@pytest.fixture
def base_url(runtime: Runtime) -> Iterator[str]:
    with served(create_app(lambda: runtime, clock=lambda: T0 + timedelta(minutes=20))) as url:
        yield url


@pytest.fixture
def browser():  # type: ignore[no-untyped-def]
    with launched() as b:
        yield b


def signed_in(browser, base_url: str, name: str, device: dict):  # type: ignore[no-untyped-def]
    context = browser.new_context(**device)
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.goto(base_url + "/")
    assert "/login" in page.url  # accounts exist: the overview asks to log in first
    page.fill("#name", name)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(base_url + "/")
    return context, page


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    screenshot(page, SHOTS / f"dashboard-{name}.png")


def test_acknowledged_elsewhere_the_open_page_updates_without_reloading(
    runtime: Runtime,
    base_url: str,
    browser,  # type: ignore[no-untyped-def]
) -> None:
    """A viewer on a phone keeps the incident open; a responder on a laptop acknowledges it from
    the overview; the viewer's timeline, state and notifications change by themselves (same page, no reload)."""
    vctx, viewer = signed_in(browser, base_url, "vera", PHONE)
    viewer.wait_for_selector("text=triggered")
    assert viewer.locator(".card.topic").first.get_attribute("data-topic") == "acme"
    viewer.goto(base_url + "/incidents/1")
    assert viewer.locator("form[action^='/incidents/1/']").count() == 0  # no action for a viewer
    assert viewer.get_by_role("button", name="Acknowledge").count() == 0
    viewer.evaluate("window.__sameDocument = 'yes'")
    assert "pending" in viewer.inner_text("#notifications")

    rctx, responder = signed_in(browser, base_url, "rita", DESKTOP)
    card = responder.locator(".card.topic[data-topic='acme'] a.incident")
    assert "triggered" in card.inner_text()
    shot(responder, "overview-1280")
    card.click()
    responder.wait_for_url(base_url + "/incidents/1")
    responder.get_by_role("button", name="Acknowledge").click()
    responder.wait_for_selector("text=Acknowledged by rita via dashboard")
    assert responder.locator("[data-live='state']").inner_text() == "acknowledged"
    shot(responder, "incident-1280")

    # The page's own script (every 5 s) brings the acknowledgement in; wait for it generously.
    viewer.locator("#timeline").get_by_text("Acknowledged by rita via dashboard").wait_for(
        timeout=30_000
    )
    assert viewer.evaluate("window.__sameDocument") == "yes"  # updated in place, not reloaded
    assert f"Customer wrote {RAW}" in viewer.inner_text("#timeline")  # rewritten, still text
    assert viewer.locator("[data-live='state']").inner_text() == "acknowledged"
    # the notifications table too: the pending page is cancelled by the acknowledgement
    viewer.locator("#notifications").get_by_text("cancelled: incident acknowledged").wait_for(
        timeout=30_000
    )
    # A new signal joins the incident and the packet job keeps a version: both sections of the
    # open page grow by themselves too, and the hostile text in the signal stays text.
    assert viewer.locator("[data-live='signals'] details").count() == 1
    assert viewer.locator("[data-live='versions'] li").count() == 0
    worse = Signal(
        "acme", "negative_surge", T0 + timedelta(minutes=10), 0.99, 2, f"Angry: {RAW}", ev()
    )
    with runtime.sessions.begin() as s:
        observe(s, runtime.config, store_signals(s, [worse]), T0 + timedelta(minutes=10))
    with runtime.sessions.begin() as s:
        assert refresh_packets(s, runtime.config, T0 + timedelta(minutes=11)) == 1
    viewer.locator("[data-live='signals'] summary").get_by_text("negative surge · SEV2").wait_for(
        timeout=30_000
    )
    assert f"Angry: {RAW}" in viewer.locator("[data-live='signals']").text_content()
    viewer.locator("[data-live='versions'] li").first.wait_for(timeout=30_000)
    assert viewer.locator("[data-live='signals'] details").count() == 2
    assert viewer.locator("[data-live='severity']").inner_text() == "SEV2"  # raised, in place
    assert (
        viewer.locator("[data-live='versions'] a")
        .first.get_attribute("href")
        .startswith("/incidents/1/packet/v/1?t=")
    )
    assert viewer.evaluate("window.__sameDocument") == "yes"
    shot(viewer, "incident-viewer-390")
    assert viewer.dialogs == [] and responder.dialogs == []
    vctx.close()
    rctx.close()


@pytest.mark.parametrize(("device", "width"), [(PHONE, 390), (DESKTOP, 1280)])
def test_every_page_fits_and_shows_hostile_text_as_text(
    runtime: Runtime,
    base_url: str,
    browser,  # type: ignore[no-untyped-def]
    device: dict,  # type: ignore[type-arg]
    width: int,
) -> None:
    ctx, page = signed_in(browser, base_url, "rita", device)
    for path in PAGES:
        page.goto(base_url + path)
        page.wait_for_load_state("load")
        # Against the width asked for: a mobile browser widens its layout viewport (and
        # window.innerWidth) to wide content, so comparing with innerWidth alone can miss it.
        assert fits_the_screen(page), f"{path} scrolls sideways at {width}px"
        assert page.evaluate("document.documentElement.scrollWidth") <= width, path
        assert page.evaluate("window.innerWidth") == width, path
        assert page.evaluate("document.querySelectorAll('img').length") == 0, path
        name = path.strip("/").replace("/", "-") or "overview"
        shot(page, f"{name}-{width}")
    page.goto(base_url + "/topics/acme")
    assert RAW in page.inner_text("body")  # shown as text
    page.goto(base_url + "/incidents/1")
    assert RAW in page.inner_text("body")
    # The live script's first refresh rewrites the timeline with textContent: still text.
    page.locator("body[data-live-ticks]").wait_for(state="attached", timeout=30_000)
    assert f"Customer wrote {RAW}" in page.inner_text("#timeline") and page.dialogs == []
    page.goto(base_url + "/")
    page.locator("body[data-live-ticks]").wait_for(state="attached", timeout=30_000)
    assert "Acme <Corp>: volume spike" in page.inner_text(".card.topic")  # live-written title
    assert page.dialogs == []
    ctx.close()
