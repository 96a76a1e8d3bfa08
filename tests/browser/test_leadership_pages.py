"""The briefing packet and the weekly summary in a real Chromium, on a phone (390 px) and a
laptop (1280 px): the chart is drawn, nothing scrolls sideways, no mention script runs.
Screenshots go to .tocsin/screenshots/ for a person to look at."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from alerts.reports import build_weekly
from alerts.reports.render import render_report_html
from alerts.tokens import make_view_token
from alerts.web import create_app
from tests.alerts.reporting import T0, build_incident, config
from tests.alerts.scenario import SECRET
from tests.alerts.test_reports import WEEK_END, WEEK_START, polls
from tests.browser.test_pages import (  # noqa: F401 - the runtime fixture
    fits_the_screen,
    launched,
    runtime,
    screenshot,
    served,
)
from worker.runtime import Runtime

SHOTS = Path(__file__).parents[2] / ".tocsin" / "screenshots"
WIDTHS = {390: {"is_mobile": True, "device_scale_factor": 2}, 1280: {"device_scale_factor": 1}}


@pytest.fixture
def base_url(runtime: Runtime) -> Iterator[str]:  # noqa: F811
    """The web app on loopback, its clock an hour after the scenario's incident opened."""
    with served(create_app(lambda: runtime, clock=lambda: T0 + timedelta(hours=1))) as url:
        yield url


@pytest.fixture
def browser():  # type: ignore[no-untyped-def]
    with launched() as b:
        yield b


def check(browser, url: str, name: str, width: int) -> str:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": width, "height": 900}, **WIDTHS[width])
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(url)
    charts = page.locator("img.chart")
    assert charts.count() >= 1
    for i in range(charts.count()):
        chart = charts.nth(i)
        chart.scroll_into_view_if_needed()
        assert chart.is_visible()
        assert chart.evaluate("img => img.complete && img.naturalWidth > 300")  # really drawn
        box = chart.bounding_box()
        assert box is not None and 0 < box["width"] <= width
    assert fits_the_screen(page), f"{name} scrolls sideways at {width}px"
    assert dialogs == [] and page.evaluate("document.querySelectorAll('script').length") == 0
    screenshot(page, SHOTS / f"{name}-{width}.png")
    text = str(page.inner_text("body"))
    context.close()
    return text


@pytest.mark.parametrize("width", [390, 1280])
def test_packet_page_shows_the_answers_and_the_chart(
    runtime: Runtime,  # noqa: F811
    base_url: str,
    browser,  # type: ignore[no-untyped-def]
    width: int,
) -> None:
    inc = build_incident(runtime.sessions, config())
    view = make_view_token(SECRET, inc, T0.replace(year=T0.year + 1))
    text = check(browser, f"{base_url}/incidents/{inc}/packet?t={view}", "packet", width)
    for label in ("What", "Since", "How big", "Where", "Who"):
        assert label in text
    assert '<script>alert("x")</script>' in text  # hostile text shown as text


@pytest.mark.parametrize("width", [390, 1280])
def test_weekly_summary_page_shows_good_news_first_and_a_chart_per_topic(
    runtime: Runtime,  # noqa: F811
    browser,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    width: int,
) -> None:
    cfg = config()
    build_incident(runtime.sessions, cfg)
    with runtime.sessions.begin() as s:  # the proof of watch, with a source down for hours
        polls(s, "reddit", WEEK_START, WEEK_END)
        polls(s, "rss", WEEK_START, WEEK_END, down=(T0, T0 + timedelta(hours=6, minutes=25)))
    with runtime.sessions() as s:
        report = build_weekly(s, cfg, "2026-W45", T0 + timedelta(days=3))
    page = tmp_path / "weekly.html"
    page.write_text(render_report_html(report), encoding="utf-8")
    text = check(browser, page.as_uri(), "weekly", width)
    assert text.index("Good news first") < text.index("SEV2")
    assert "but a source was down: rss (lumio) did not answer for 6 h 30 min" in text
