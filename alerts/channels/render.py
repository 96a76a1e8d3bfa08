"""What a notification says: subject, plain text and HTML, with every field escaped."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from alerts.channels.base import OutgoingMessage

#: Bidirectional controls (embeddings, overrides, isolates, marks): a mention could use them to
#: make "moc.evil" read as "evil.com" or reorder a sentence. Dropped from everything we render.
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
#: Other control characters (C0 and C1, except tab and line breaks handled by `one_line`).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f]")
#: Everything a text viewer, mail client or SMS phone may start a new line at.
_LINE_BREAKS = re.compile("[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]+")


def clean(value: Any) -> str:
    """Hostile text made inert for any surface: no bidi controls, no control characters."""
    return _CONTROL.sub("", _BIDI.sub("", str(value)))


def one_line(value: Any, limit: int | None = None) -> str:
    """`clean` text on one line: a CR/LF (or U+2028 …) in an author name can never start a new
    line, so nobody can forge a `Bcc:` line or a fake link line in a plain-text body."""
    text = " ".join(clean(_LINE_BREAKS.sub(" ", str(value))).split())
    if limit is not None and len(text) > limit:
        text = text[: max(0, limit - 1)].rstrip() + "…"
    return text


def _finalize(value: Any) -> Any:
    # Every {{ expression }} of every template (e-mail, packet, dashboard) loses bidi controls; a
    # macro's output is already-escaped Markup whose own expressions were cleaned: kept as it is.
    if isinstance(value, Markup):
        return value
    return clean(value) if isinstance(value, str) else value


@lru_cache(maxsize=1)
def env() -> Environment:
    # Autoescape is on for every template: mention text quoted in an explanation is hostile input.
    return Environment(
        loader=PackageLoader("alerts", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        finalize=_finalize,
    )


def safe_header(value: str) -> str:
    """No CR/LF in a header: a mention can never inject one."""
    return one_line(value, 250)


def render_text(message: OutgoingMessage) -> str:
    # Every field goes through one_line: whatever a mention or an author name holds, it stays
    # on its own line of the body and cannot add lines of its own.
    b = message.body
    if isinstance(b.get("text"), str):  # a report or packet e-mail carries its own parts
        return str(b["text"])
    lines = [
        one_line(message.subject),
        "",
        f"Hello {one_line(b.get('recipient_name') or message.recipient)},",
        "",
        *[f"- {one_line(e)}" for e in b.get("explanations", [])],
        "",
    ]
    if b.get("opened_shown"):  # in the team's time zone (`[tocsin] timezone`)
        lines += [f"Opened {one_line(b['opened_shown'])}.", ""]
    if b.get("acknowledged_by"):  # severe, but already in hand: no button to press
        who = one_line(b["acknowledged_by"])
        lines += [f"This is now severe. {who} acknowledged it and is on it.", ""]
    elif message.role == "on-call":
        lines += ["Acknowledge (stops the escalation):", one_line(b.get("ack_url", "")), ""]
    else:
        lines += [
            "Nobody has acknowledged this yet, or it is severe. Acknowledge:",
            one_line(b.get("ack_url", "")),
            "",
        ]
    lines += ["Briefing packet:", one_line(b.get("packet_url", "")), "", "— tocsin"]
    return "\n".join(lines)


def render_html(message: OutgoingMessage) -> str:
    if isinstance(
        message.body.get("html"), str
    ):  # rendered (and escaped) by alerts.packets/reports
        return str(message.body["html"])
    return env().get_template("email.html").render(m=message, b=message.body)
