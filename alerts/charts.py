"""Charts for people: the packet's mentions chart and the weekly summary's small chart per topic.

Drawn with matplotlib on the Agg backend (no display, no fonts downloaded) as PNG, because e-mail
clients such as Gmail and Outlook block SVG and scripts: the same PNG goes inline in e-mails (a
CID attachment), on the web page (a data: URI, allowed by the page's CSP) and in the PDF.
Rendering is deterministic for the same data (no date in the PNG metadata), so golden tests and
packet versions compare equal when nothing changed; and because it is, the last few charts are
kept by their data and a chart asked for again (two packet versions of one tick, a report's page
and its e-mail) is not drawn again.
"""

from __future__ import annotations

import io
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from worker.localtime import local

MENTIONS = "#3056a0"
NEGATIVE = "#b00020"
BAND = "#9fb3d9"

#: How many charts are kept by their data (a packet chart is ~25 kB).
KEPT = 32
_kept: OrderedDict[str, bytes] = OrderedDict()
_kept_lock = threading.Lock()
#: One chart drawn at a time: the figures share their renderers (see `_subplots`).
_draw_lock = threading.Lock()
#: (width px, height px, dpi) -> the Agg renderer every figure of that size draws on.
_renderers: dict[tuple[float, float, float], Any] = {}
_canvas: Any = None


def _remembered(key: Any, draw: Callable[[], bytes]) -> bytes:
    """The PNG drawn for the same data before, else `draw()` (and keep it)."""
    k = json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)
    with _kept_lock:
        png = _kept.get(k)
        if png is not None:
            _kept.move_to_end(k)
            return png
    with _draw_lock:
        png = draw()
    with _kept_lock:
        _kept[k] = png
        while len(_kept) > KEPT:
            _kept.popitem(last=False)
    return png


def _canvas_class() -> Any:
    """An Agg canvas whose renderer is shared by every figure of the same size and dpi.

    matplotlib keeps text extents per renderer, and a chart measures its texts twice (tight
    layout, then the picture) on two renderers (100 then 110 dpi); with a renderer of its own,
    each new figure measured every tick label again. A renderer is cleared before each draw, so
    the picture is the same."""
    global _canvas
    if _canvas is None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg

        class SharedRendererCanvas(FigureCanvasAgg):
            def get_renderer(self) -> Any:
                w, h = self.get_width_height(physical=True)
                key = (w, h, self.figure.dpi)
                renderer = _renderers.get(key)
                if renderer is None:
                    renderer = _renderers[key] = RendererAgg(w, h, self.figure.dpi)
                self.renderer, self._lastKey = renderer, key
                return renderer

        _canvas = SharedRendererCanvas
    return _canvas


def _subplots(figsize: tuple[float, float]) -> tuple[Any, Any]:
    """A figure on an Agg canvas and its one Axes, without pyplot: no global figure registry
    to close, no interactive backend machinery to import."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    _canvas_class()(fig)
    return fig, fig.subplots()


def _png(fig: Any) -> bytes:
    # tight_layout() has placed the axes already; without a layout engine, savefig draws once
    # instead of a layout draw and then the real one (the same picture, byte for byte).
    fig.set_layout_engine(None)
    buf = io.BytesIO()
    # No "Software"/date metadata: the same data gives the same bytes.
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    return buf.getvalue()


def incident_chart(chart: dict[str, Any], tz: str) -> bytes:
    """Mentions and negative mentions per bin, the usual band shaded, opening and
    acknowledgement marked. `chart` is the packet's `chart` entry (see alerts.packets.content)."""
    return _remembered(["incident", chart, tz], lambda: _incident_chart(chart, tz))


def _incident_chart(chart: dict[str, Any], tz: str) -> bytes:
    from matplotlib.dates import AutoDateLocator, DateFormatter

    times = [local(datetime.fromisoformat(t), tz) for t in chart["times"]]
    # Drawn for a phone first: about 6 by 3.6 inches keeps the labels legible at 360 px wide.
    fig, ax = _subplots((6.0, 3.6))
    if times:
        low, high = chart.get("band_low") or [], chart.get("band_high") or []
        if low and len(low) == len(times):
            ax.fill_between(
                times, low, high, step="post", color=BAND, alpha=0.45, linewidth=0, label="usual"
            )
        ax.step(times, chart["mentions"], where="post", color=MENTIONS, lw=1.8, label="mentions")
        ax.step(times, chart["negative"], where="post", color=NEGATIVE, lw=1.6, label="negative")
        top = max([1, *chart["mentions"], *(high or [0])])
        for i, mark in enumerate(chart.get("marks", [])):
            at = local(datetime.fromisoformat(mark["at"]), tz)
            ax.axvline(at, color="#1d2330", lw=1, ls="--")
            # Staggered, right-aligned labels: marks minutes apart never print over each other.
            ax.text(
                at,
                top * (1.22 - 0.1 * i),
                mark["label"] + " ",
                fontsize=10,
                va="bottom",
                ha="right",
            )
        ax.set_ylim(0, top * 1.35)
        ax.xaxis.set_major_locator(AutoDateLocator(tz=times[0].tzinfo, minticks=3, maxticks=4))
        ax.xaxis.set_major_formatter(DateFormatter("%a %H:%M", tz=times[0].tzinfo))
    ax.set_ylabel(f"per {chart.get('bin_minutes', 30)} min")
    ax.grid(axis="y", color="#e5e7eb")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.legend(loc="upper left", fontsize=10, frameon=False, ncol=3, bbox_to_anchor=(0, 1.18))
    ax.tick_params(labelsize=10)
    fig.autofmt_xdate(rotation=0, ha="center")
    fig.tight_layout()
    return _png(fig)


def week_chart(days: Sequence[str], mentions: Sequence[int], negative: Sequence[int]) -> bytes:
    """A small bar chart for one topic: mentions per day of the week, negatives in red."""
    key = ["week", list(days), list(mentions), list(negative)]
    return _remembered(key, lambda: _week_chart(days, mentions, negative))


def _week_chart(days: Sequence[str], mentions: Sequence[int], negative: Sequence[int]) -> bytes:
    fig, ax = _subplots((4.8, 1.8))
    x = range(len(days))
    ax.bar(x, mentions, color=MENTIONS, label="mentions")
    ax.bar(x, negative, color=NEGATIVE, label="negative")
    ax.set_xticks(list(x), list(days), fontsize=8)
    ax.tick_params(axis="y", labelsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.legend(loc="upper left", fontsize=7, frameon=False, ncol=2)
    ax.set_ylim(0, max([1, *mentions]) * 1.3)
    fig.tight_layout()
    return _png(fig)
