"""Platform connectors: one small module per platform behind one seam (`base.Connector`)."""

from __future__ import annotations

from worker.sources.base import Connector, PayloadError, Query, SourceError
from worker.sources.rss import RSSConnector

#: Platform name → connector. A new platform is one module and one line here.
CONNECTORS: dict[str, Connector] = {"rss": RSSConnector()}


def get_connector(platform: str) -> Connector:
    try:
        return CONNECTORS[platform]
    except KeyError:
        raise KeyError(
            f"no connector for platform {platform!r} (known: {', '.join(sorted(CONNECTORS))})"
        ) from None


__all__ = ["CONNECTORS", "Connector", "PayloadError", "Query", "SourceError", "get_connector"]
