"""The charts (alerts/charts.py): one draw per picture on renderers shared by figures of a size,
and a picture asked for again with the same data is not drawn again (a packet's versions, a
report's page and its e-mail share charts); the same bytes as matplotlib's own way."""

from __future__ import annotations

import copy
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from matplotlib.backends import backend_agg
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from alerts import charts

START = datetime(2026, 11, 5, 12, 0, tzinfo=UTC)


def packet_chart(n: int = 60, bump: int = 0) -> dict[str, Any]:
    """A chart entry shaped as the packet's (alerts.packets.content._chart)."""
    mentions = [3 + (i % 5) + (40 if i > n - 8 else 0) for i in range(n)]
    mentions[-1] += bump
    return {
        "bin_minutes": 30,
        "times": [(START + i * timedelta(minutes=30)).isoformat() for i in range(n)],
        "mentions": mentions,
        "negative": [m // 3 for m in mentions],
        "band_low": [1.0 + (i % 3) for i in range(n)],
        "band_high": [7.5 + (i % 4) for i in range(n)],
        "marks": [
            {"label": "opened", "at": (START + (n - 8) * timedelta(minutes=30)).isoformat()},
            {"label": "acknowledged", "at": (START + (n - 6) * timedelta(minutes=30)).isoformat()},
        ],
    }


@pytest.fixture(autouse=True)
def nothing_kept() -> None:
    charts._kept.clear()


def test_a_chart_asked_for_again_is_not_drawn_again(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[str] = []
    incident, week = charts._incident_chart, charts._week_chart

    def counted_incident(chart: dict[str, Any], tz: str) -> bytes:
        drawn.append("incident")
        return incident(chart, tz)

    def counted_week(*args: Any) -> bytes:
        drawn.append("week")
        return week(*args)

    monkeypatch.setattr(charts, "_incident_chart", counted_incident)
    monkeypatch.setattr(charts, "_week_chart", counted_week)
    first = charts.incident_chart(packet_chart(), "UTC")
    assert charts.incident_chart(copy.deepcopy(packet_chart()), "UTC") == first
    assert drawn == ["incident"]
    # Any change of data or zone is another picture.
    assert charts.incident_chart(packet_chart(bump=9), "UTC") != first
    assert charts.incident_chart(packet_chart(), "Europe/Paris") != first
    assert len(drawn) == 3
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    bars = charts.week_chart(days, [5, 9, 40, 3, 0, 0, 2], [1, 2, 30, 0, 0, 0, 0])
    assert charts.week_chart(tuple(days), (5, 9, 40, 3, 0, 0, 2), (1, 2, 30, 0, 0, 0, 0)) == bars
    assert charts.week_chart(days, [5, 9, 40, 3, 0, 0, 2], [1, 2, 31, 0, 0, 0, 0]) != bars
    assert drawn.count("week") == 2
    # Only the last few are kept.
    for bump in range(charts.KEPT + 5):
        charts.week_chart(["Mon"], [bump], [0])
    assert len(charts._kept) == charts.KEPT


def test_one_draw_makes_the_picture_savefig_makes_after_a_layout_draw(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The chart is drawn once; left to itself, savefig draws the figure twice after
    tight_layout (a layout pass, then the picture): the same bytes either way."""
    draws: list[int] = []
    draw = Figure.draw

    def counted(self: Figure, renderer: Any) -> None:
        draws.append(1)
        draw(self, renderer)

    monkeypatch.setattr(Figure, "draw", counted)
    once = charts._incident_chart(packet_chart(), "Europe/Paris")
    assert len(draws) == 1

    def savefig_as_is(fig: Any) -> bytes:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
        return buf.getvalue()

    monkeypatch.setattr(charts, "_png", savefig_as_is)
    assert charts._incident_chart(packet_chart(), "Europe/Paris") == once
    assert len(draws) == 3


def test_figures_of_one_size_share_their_renderers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Three charts, a layout pass at 100 dpi and the picture at 110 each: two renderers in all,
    and the pictures are the ones drawn by canvases of their own."""
    charts._renderers.clear()
    made: list[tuple[Any, ...]] = []
    renderer = backend_agg.RendererAgg

    def counted(*args: Any) -> Any:
        made.append(args)
        return renderer(*args)

    monkeypatch.setattr(backend_agg, "RendererAgg", counted)
    monkeypatch.setattr(charts, "_canvas", None)  # made again, with the counted renderer
    shared = [charts._incident_chart(packet_chart(n=40 + i), "UTC") for i in range(3)]
    assert len(made) == 2 and {a[2] for a in made} == {100, 110}
    monkeypatch.setattr(charts, "_canvas_class", lambda: FigureCanvasAgg)
    assert [charts._incident_chart(packet_chart(n=40 + i), "UTC") for i in range(3)] == shared
    assert len(made) == 2 + 3 * 2  # a canvas of its own: two renderers per chart
