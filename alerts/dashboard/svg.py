"""Inline SVG charts drawn on the server: numbers in, coordinates out, no script and no style
attribute (the dashboard's CSP allows neither). The templates `dash_macros.html` draw them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from alerts.dashboard.series import Series
from worker.localtime import local


@dataclass(frozen=True)
class Mark:
    x: float
    label: str
    href: str
    anchor: str = "start"  # "end" near the right edge, so the label stays inside the chart


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    mentions: str  # polyline points
    negative: str
    band: str  # polygon points, "" without a band
    top: int  # the y axis' top value
    y_ticks: list[tuple[float, int]] = field(default_factory=list)
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    last: tuple[float, float] | None = None  # the last point, drawn as a dot
    pad_left: int = 0  # where the plot starts (the y labels end just before)


def _nice_top(v: float) -> int:
    for n in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000):
        if v <= n:
            return n
    return int(v * 1.2) + 1


def draw(
    s: Series,
    *,
    width: int,
    height: int,
    pad_left: int = 0,
    pad_bottom: int = 0,
    tz: str = "UTC",
    x_format: str | None = None,
    marks: list[tuple[datetime, str, str]] | None = None,
    ticks: int = 4,
) -> Chart:
    """The geometry of a step chart of `s` in a `width` × `height` box (y grows downwards)."""
    n = len(s.mentions)
    top = _nice_top(max([1.0, *map(float, s.mentions), *(s.high or [0.0])]))
    # Room above the top value for its label (a chart with an axis) and for the marks' labels.
    pad_top = 14 if pad_left else 2
    inner_w = width - pad_left - 4
    inner_h = height - pad_bottom - pad_top - 2

    def x(i: float) -> float:
        return round(pad_left + inner_w * i / max(1, n), 1)

    def y(v: float) -> float:
        return round(pad_top + inner_h - inner_h * v / top, 1)

    def steps(values: list[float]) -> str:
        pts = []
        for i, v in enumerate(values):
            pts.append(f"{x(i)},{y(v)}")
            pts.append(f"{x(i + 1)},{y(v)}")
        return " ".join(pts)

    band = ""
    if s.high:
        upper = steps(s.high).split(" ")
        lower = steps(s.low).split(" ")
        band = " ".join(upper + lower[::-1])
    x_ticks: list[tuple[float, str]] = []
    if x_format:
        every = max(1, -(-n // ticks))
        for i in range(0, n, every):
            x_ticks.append((x(i), local(s.start + i * s.step, tz).strftime(x_format)))
    y_ticks = [(y(v), v) for v in (0, top // 2, top)] if pad_left else []
    out_marks = []
    for at, label, href in marks or []:
        pos = (at - s.start) / s.step
        if 0 <= pos <= n:
            at_x = x(pos)
            out_marks.append(Mark(at_x, label, href, "end" if at_x > width * 0.8 else "start"))
    last = (x(n - 0.5), y(float(s.mentions[-1]))) if n else None
    return Chart(
        width,
        height,
        steps([float(v) for v in s.mentions]),
        steps([float(v) for v in s.negative]),
        band,
        top,
        y_ticks,
        x_ticks,
        out_marks,
        last,
        pad_left,
    )


__all__ = ["Chart", "Mark", "draw"]
