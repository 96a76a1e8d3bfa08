"""The packet in every format: web page, e-mail parts (text + HTML + inline PNG), Markdown,
JSON and PDF. All of them are rendered from the same packet dict and the same chart PNG.

Escaping: HTML goes through Jinja2 with autoescape (alerts.channels.render.env); Markdown escapes
the characters Markdown and HTML would read; links are shown only when they are http(s).
"""

from __future__ import annotations

import base64
import json
import re
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from alerts.channels.render import env
from alerts.charts import incident_chart
from alerts.packets.content import packet_summary
from worker.localtime import show

CHART_CID = "packet-chart"
SEV_COLOUR = {1: "#b00020", 2: "#d9480f", 3: "#b7791f", 4: "#4a5568"}


@dataclass(frozen=True)
class InlineImage:
    cid: str
    data: bytes
    mime: str = "image/png"
    filename: str = "chart.png"


@dataclass(frozen=True)
class EmailParts:
    """What an e-mail channel sends: a subject, a text part, an HTML part with inline CSS, and
    the images the HTML references as `cid:` (attach them as multipart/related parts)."""

    subject: str
    text: str
    html: str
    images: list[InlineImage] = field(default_factory=list)

    def to_body(self) -> dict[str, Any]:
        """The JSON-safe form kept in a notification row's body (`text`, `html`, `images`)."""
        return {
            "text": self.text,
            "html": self.html,
            "images": [
                {
                    "cid": i.cid,
                    "mime": i.mime,
                    "filename": i.filename,
                    "data_b64": base64.b64encode(i.data).decode("ascii"),
                }
                for i in self.images
            ],
        }


#: The first screen's labels for packets kept before format 3 (English only).
DEFAULT_LABELS = [("what", "What"), ("since", "Since"), ("size", "How big"), ("where", "Where"),
                  ("who", "Who")]  # fmt: skip


def answer_labels(packet: dict[str, Any]) -> list[tuple[str, str]]:
    """(key, label) of the five answers, in the packet's first-screen language."""
    return [(k, label) for k, label in packet.get("answer_labels") or DEFAULT_LABELS]


def headline(packet: dict[str, Any]) -> str:
    return str(packet.get("headline") or f"{packet['display_name']}: {packet['category_label']}")


def chart_png(packet: dict[str, Any]) -> bytes:
    return incident_chart(packet["chart"], packet.get("timezone", "UTC"))


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def render_packet_html(
    packet: dict[str, Any],
    *,
    png: bytes | None = None,
    version: int | None = None,
    versions: list[tuple[str, dict[str, Any]]] | None = None,
) -> str:
    """The web page (phone first). The chart is an inline PNG (data: URI). `versions` are
    (link, {"version", "generated_at"}) of the kept versions, listed at the foot of the page."""
    png = png if png is not None else chart_png(packet)
    shown = [
        (
            link,
            v["version"],
            show(
                datetime.fromisoformat(v["generated_at"]), packet.get("timezone", "UTC"), "%a %H:%M"
            ),
        )
        for link, v in versions or []
    ]
    return (
        env()
        .get_template("packet.html")
        .render(
            p=packet,
            lang="en",
            chart_src=data_uri(png),
            version=version,
            versions=shown,
            default_labels=DEFAULT_LABELS,
        )
    )


def render_packet_text(
    packet: dict[str, Any],
    packet_url: str | None = None,
    *,
    ack_url: str | None = None,
    version_url: str | None = None,
) -> str:
    a = packet["answers"]
    lines = [
        f"SEV{packet['severity']} · {headline(packet)}",
        "",
        *(f"{label}: {a[key]}" for key, label in answer_labels(packet)),
        "",
    ]
    if ack_url and not packet.get("acknowledged_by") and packet.get("state") != "resolved":
        lines += ["Nobody has acknowledged this yet. Acknowledge (stops the escalation):", ack_url]
        lines += [""]
    if packet_url:
        lines += ["Full briefing (chart, posts, statements):", packet_url, ""]
    if version_url:
        lines += ["This briefing, kept as it is now:", version_url, ""]
    lines += ["What we know:", *[f"- {k}" for k in packet["known"]], ""]
    lines += ["What we don't know yet:", *[f"- {k}" for k in packet["unknown"]], ""]
    lines += ["Top posts:"]
    for t in packet["top_posts"]:
        copies = f", {t['copies']} copies" if t["copies"] > 1 else ""
        lines.append(
            f'- "{t["text"]}" — {t["author"] or "unknown author"}, {t["platform"]}, '
            f"{t['reach_label']} followers{copies}, {t['at']}"
            + (f" {t['safe_url']}" if t["safe_url"] else "")
        )
    lines += ["", "Timeline:", *[f"- {e['at']}  {e['text']}" for e in packet["timeline"]], ""]
    lines += ["Holding statements (DRAFT, adapt before use):"]
    lines += [f"[{s['language']}] {s['text']}" for s in packet["holding_statements"]]
    lines += ["", f"Prepared by tocsin at {packet['generated_at']}."]
    return "\n".join(lines)


def packet_email(
    packet: dict[str, Any],
    packet_url: str | None = None,
    *,
    ack_url: str | None = None,
    version_url: str | None = None,
    png: bytes | None = None,
) -> EmailParts:
    """The packet as an e-mail: text part with the five answers first, HTML with inline CSS and
    the chart as an inline PNG referenced by `cid:` (Gmail and Outlook block SVG and scripts).
    `ack_url` is offered while nobody has acknowledged; `version_url` links the kept version;
    `png` is the chart when the caller already rendered it."""
    ack_url = (
        ack_url
        if ack_url and not packet.get("acknowledged_by") and packet.get("state") != "resolved"
        else None
    )
    png = png if png is not None else chart_png(packet)
    html = (
        env()
        .get_template("packet_email.html")
        .render(
            p=packet,
            chart_cid=CHART_CID,
            default_labels=DEFAULT_LABELS,
            packet_url=packet_url,
            ack_url=ack_url,
            version_url=version_url,
            sev_colour=SEV_COLOUR.get(packet["severity"], "#4a5568"),
        )
    )
    subject = f"[SEV{packet['severity']}] Briefing: {packet['title']}"
    return EmailParts(
        " ".join(subject.split())[:250],
        render_packet_text(packet, packet_url, ack_url=ack_url, version_url=version_url),
        html,
        [InlineImage(CHART_CID, png)],
    )


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>&])")


def md_escape(text: str) -> str:
    """Text shown literally in Markdown (and in the HTML a Markdown renderer makes of it)."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def render_packet_md(packet: dict[str, Any], chart_file: str = "chart.png") -> str:
    a = packet["answers"]
    e = md_escape
    out = [
        f"# SEV{packet['severity']} · {e(headline(packet))}",
        "",
        *(f"- **{label}:** {e(a[key])}" for key, label in answer_labels(packet)),
        "",
        f"![Mentions and negative mentions per {packet['chart']['bin_minutes']} minutes]({chart_file})",
        "",
        "## What we know",
        *(f"- {e(k)}" for k in packet["known"]),
        "",
        "## What we don't know yet",
        *(f"- {e(k)}" for k in packet["unknown"]),
        "",
        "## Top posts",
    ]
    for t in packet["top_posts"]:
        link = f" [open]({t['safe_url']})" if t["safe_url"] else ""
        copies = f" · {t['copies']} copies" if t["copies"] > 1 else ""
        out.append(
            f"- {e(t['text'])} — {e(t['author'] or 'unknown author')} · {e(t['platform'])} · "
            f"{e(t['reach_label'])} followers{copies} · {e(t['at'])}{link}"
        )
    out += ["", "## Themes"]
    out += [
        f"- {e(t['term'])}: {t['posts']} posts" + (f", ×{t['lift']}" if t["lift"] else ", new")
        for t in packet["themes"]
    ] or ["- No clear theme yet."]
    out += ["", "## Timeline", *(f"- {e(x['at'])}: {e(x['text'])}" for x in packet["timeline"])]
    out += ["", "## Holding statements (DRAFT, adapt before use)"]
    out += [f"**{s['language']}:** {e(s['text'])}\n" for s in packet["holding_statements"]]
    out += ["", f"_Prepared by tocsin at {e(packet['generated_at'])}._", ""]
    return "\n".join(out)


def write_packet(directory: Path, packet: dict[str, Any], *, pdf: bool = True) -> Path:
    """index.html, packet.json, packet.md, chart.png and packet.pdf; returns index.html's path."""
    from alerts.pdf import PDFUnavailable, html_to_pdf

    directory.mkdir(parents=True, exist_ok=True)
    png = chart_png(packet)
    (directory / "chart.png").write_bytes(png)
    (directory / "packet.json").write_text(
        json.dumps(packet, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    (directory / "packet.md").write_text(render_packet_md(packet), encoding="utf-8")
    html = render_packet_html(packet, png=png)
    index = directory / "index.html"
    index.write_text(html, encoding="utf-8")
    if pdf:
        try:
            html_to_pdf(html, directory / "packet.pdf")
        except PDFUnavailable as exc:  # the other formats are written; say why this one is not
            print(f"tocsin: {exc}", file=sys.stderr)
    return index


__all__ = [
    "EmailParts",
    "InlineImage",
    "chart_png",
    "packet_email",
    "packet_summary",
    "render_packet_html",
    "render_packet_md",
    "render_packet_text",
    "write_packet",
]
