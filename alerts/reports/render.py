"""The weekly summary and monthly report as a page (web, file, PDF), a text and an e-mail.

Per-topic charts are PNG: data: URIs on the page and in the PDF, `cid:` parts in the e-mail."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from alerts.channels.render import env
from alerts.charts import week_chart
from alerts.packets.render import EmailParts, InlineImage, data_uri
from alerts.reports.period import _minutes
from worker.localtime import show

HEADINGS = {"week": "Weekly summary", "month": "Monthly report", "span": "Follow-up"}
WORDS = {"week": "week", "month": "month", "span": "period"}


def _label(r: dict[str, Any]) -> str:
    kind = r["_kind"]
    if kind == "span":
        start, end = datetime.fromisoformat(r["start"]), datetime.fromisoformat(r["end"])
        return f"{HEADINGS[kind]} {show(start, r['timezone'])} – {show(end, r['timezone'])}"
    return f"{HEADINGS[kind]} {r['week'] if kind == 'week' else r['month']}"


def charts(r: dict[str, Any]) -> list[bytes]:
    return [week_chart(t["_days"], t["_day_mentions"], t["_day_negative"]) for t in r["topics"]]


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.0f}%"


def render_report_html(r: dict[str, Any], *, chart_srcs: list[str] | None = None) -> str:
    srcs = chart_srcs if chart_srcs is not None else [data_uri(c) for c in charts(r)]
    tz = r["timezone"]
    good = sorted(
        ((t, g) for t in r["topics"] for g in t["top_positive"]),
        key=lambda tg: -tg[0]["_engagement"].get(tg[1]["id"], 0),
    )[:3]
    return (
        env()
        .get_template("report.html")
        .render(
            r=r,
            heading=_label(r),
            period_word=WORDS[r["_kind"]],
            no_mentions=not any(t["mentions"] for t in r["topics"]),
            good=good,
            charts=srcs,
            pct=_pct,
            when=lambda iso: show(datetime.fromisoformat(iso), tz, "%a %d %b %H:%M"),
            after=lambda a, b: _minutes(datetime.fromisoformat(b) - datetime.fromisoformat(a)),
            span=lambda minutes: _minutes(timedelta(minutes=minutes)),
        )
    )


def render_report_text(r: dict[str, Any]) -> str:
    lines = [_label(r) + (" (partial)" if r["partial"] else ""), "", r["summary"], ""]
    for t in r["topics"]:
        w = WORDS[r["_kind"]]
        lines += [
            f"{t['_display_name']}, this {w} / previous {w} / 4-{w} average:",
            f"  mentions {t['mentions']} / {t['mentions_previous']} / {t['_mentions_avg4']}",
            f"  distinct authors {t['distinct_authors']} / {t['_authors_previous']} / {t['_authors_avg4']}",
            f"  positive {_pct(t['positive_share'])} / {_pct(t['_positive_share_previous'])} / "
            f"{_pct(t['_positive_share_avg4'])}",
            f"  negative {_pct(t['negative_share'])} / {_pct(t['negative_share_previous'])} / "
            f"{_pct(t['_negative_share_avg4'])}",
        ]
        for g in t["top_positive"]:
            lines.append(f'  + "{g["text"]}" — {g["author"] or "unknown"}, {g["platform"]}')
        if t["themes"]:
            lines.append("  what people liked: " + ", ".join(th["term"] for th in t["themes"]))
        for i in t["incidents"]:
            opened = datetime.fromisoformat(i["opened_at"])
            lines.append(
                f"  ! #{i['id']} {i['severity']} opened {show(opened, r['timezone'], '%a %H:%M')}"
                + (
                    f", acknowledged by {i['acknowledged_by']} after "
                    f"{_minutes(datetime.fromisoformat(i['acknowledged_at']) - opened)}"
                    if i["acknowledged_at"]
                    else ", never acknowledged"
                )
                + (
                    f", resolved after {_minutes(datetime.fromisoformat(i['resolved_at']) - opened)}"
                    if i["resolved_at"]
                    else ", open"
                )
            )
        for p, c in sorted(t["coverage"].items()):
            lines.append(
                f"  watch {p}: {c['ok']}/{c['polls']} polls ok, longest gap {c['longest_gap_minutes']} min ({c['gap_from']})"
            )
        lines.append("")
    lines.append("— tocsin")
    return "\n".join(lines)


def report_email(r: dict[str, Any]) -> EmailParts:
    pngs = charts(r)
    cids = [f"report-chart-{i}" for i in range(len(pngs))]
    html = render_report_html(r, chart_srcs=[f"cid:{c}" for c in cids])
    return EmailParts(
        _label(r) + (" (partial)" if r["partial"] else ""),
        render_report_text(r),
        html,
        [InlineImage(c, p, filename=f"{c}.png") for c, p in zip(cids, pngs, strict=True)],
    )
