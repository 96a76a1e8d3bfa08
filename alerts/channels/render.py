"""What a notification says: subject, plain text and HTML, with every field escaped."""

from __future__ import annotations

from functools import lru_cache

from jinja2 import Environment, PackageLoader, select_autoescape

from alerts.channels.base import OutgoingMessage


@lru_cache(maxsize=1)
def env() -> Environment:
    # Autoescape is on for every template: mention text quoted in an explanation is hostile input.
    return Environment(
        loader=PackageLoader("alerts", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )


def safe_header(value: str) -> str:
    """No CR/LF in a header: a mention can never inject one."""
    return " ".join(value.replace("\r", " ").replace("\n", " ").split())[:250]


def render_text(message: OutgoingMessage) -> str:
    b = message.body
    if isinstance(b.get("text"), str):  # a report or packet e-mail carries its own parts
        return str(b["text"])
    lines = [
        f"{message.subject}",
        "",
        f"Hello {b.get('recipient_name') or message.recipient},",
        "",
        *[f"- {e}" for e in b.get("explanations", [])],
        "",
    ]
    if b.get("opened_shown"):  # in the team's time zone (`[tocsin] timezone`)
        lines += [f"Opened {b['opened_shown']}.", ""]
    if b.get("acknowledged_by"):  # severe, but already in hand: no button to press
        lines += [f"This is now severe. {b['acknowledged_by']} acknowledged it and is on it.", ""]
    elif message.role == "on-call":
        lines += ["Acknowledge (stops the escalation):", str(b.get("ack_url", "")), ""]
    else:
        lines += [
            "Nobody has acknowledged this yet, or it is severe. Acknowledge:",
            str(b.get("ack_url", "")),
            "",
        ]
    lines += ["Briefing packet:", str(b.get("packet_url", "")), "", "— tocsin"]
    return "\n".join(lines)


def render_html(message: OutgoingMessage) -> str:
    if isinstance(
        message.body.get("html"), str
    ):  # rendered (and escaped) by alerts.packets/reports
        return str(message.body["html"])
    return env().get_template("email.html").render(m=message, b=message.body)
