"""The briefing packet: what an executive reads on a phone, never logging in.

- `content`: the packet as plain data, built from the database as of `now`.
- `words`: crisis category, condensed timeline, holding statements (EN/FR).
- `render`: web page, e-mail parts (text, HTML, inline chart PNG), Markdown, JSON, PDF.
- `versions`: every regeneration kept; `refresh_packets` is the scheduled job.
"""

from alerts.packets.content import build_packet, packet_summary
from alerts.packets.render import (
    EmailParts,
    InlineImage,
    chart_png,
    packet_email,
    render_packet_html,
    render_packet_md,
    render_packet_text,
    write_packet,
)
from alerts.packets.versions import (
    briefing_version,
    get_version,
    list_versions,
    refresh_packets,
    store_version,
)

__all__ = [
    "EmailParts",
    "InlineImage",
    "briefing_version",
    "build_packet",
    "chart_png",
    "get_version",
    "list_versions",
    "packet_email",
    "packet_summary",
    "refresh_packets",
    "render_packet_html",
    "render_packet_md",
    "render_packet_text",
    "store_version",
    "write_packet",
]
