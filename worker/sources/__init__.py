"""Platform connectors: one small module per platform behind one seam (`base.Connector`)."""

from __future__ import annotations

from worker.sources.appstore import AppStoreConnector
from worker.sources.base import Connector, PayloadError, Query, SourceError
from worker.sources.bluesky import BlueskyConnector
from worker.sources.googlenews import GoogleNewsConnector
from worker.sources.hackernews import HackerNewsConnector
from worker.sources.mastodon import MastodonConnector
from worker.sources.reddit import RedditConnector
from worker.sources.rss import RSSConnector
from worker.sources.x import XConnector
from worker.sources.youtube import YouTubeConnector

#: Platform name → connector. A new platform is one module and one line here.
CONNECTORS: dict[str, Connector] = {
    "rss": RSSConnector(),
    "mastodon": MastodonConnector(),
    "bluesky": BlueskyConnector(),
    "reddit": RedditConnector(),
    "x": XConnector(),
    "hackernews": HackerNewsConnector(),
    "youtube": YouTubeConnector(),
    "appstore": AppStoreConnector(),
    "googlenews": GoogleNewsConnector(),
}


def get_connector(platform: str) -> Connector:
    try:
        return CONNECTORS[platform]
    except KeyError:
        raise KeyError(
            f"no connector for platform {platform!r} (known: {', '.join(sorted(CONNECTORS))})"
        ) from None


__all__ = ["CONNECTORS", "Connector", "PayloadError", "Query", "SourceError", "get_connector"]
