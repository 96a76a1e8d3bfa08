"""The RSS/Atom connector against a real HTTP server on loopback that speaks conditional GET
(platforms.md §7): 304s, validators, redirects, rate limits, gone feeds and broken documents."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.fakes.rss_server import RSSServer, atom_feed, rss_feed
from worker.sources.base import PayloadError, Query, SourceError
from worker.sources.http import make_client, retry_after
from worker.sources.rss import RSSConnector

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def server() -> Iterator[RSSServer]:
    s = RSSServer().start()
    yield s
    s.stop()


def items(n: int, start: int = 0) -> list[dict[str, object]]:
    return [
        {
            "title": f"Acme story {i}",
            "link": f"https://news.example/{i}",
            "guid": f"g{i}",
            "pubDate": NOW - timedelta(minutes=i),
            "description": f"<p>Body <b>{i}</b> &amp; more</p>",
            "source": {"url": "https://paper.example", "name": "The Paper"},
        }
        for i in range(start, start + n)
    ]


def fetch(server: RSSServer, cursor: dict[str, object], path: str = "/feed"):  # type: ignore[no-untyped-def]
    with make_client() as client:
        return RSSConnector().fetch(client, Query("acme", "rss", server.url(path)), cursor, NOW)


def test_conditional_get_round_trip(server: RSSServer) -> None:
    server.set_feed("/feed", rss_feed(items(3)))
    first = fetch(server, {})
    assert [m.id for m in first.mentions] == ["g0", "g1", "g2"]
    m = first.mentions[0]
    assert m.text == "Acme story 0 — Body 0 & more"  # HTML stripped, entities decoded
    assert m.created_at == NOW and m.topic == "acme" and m.url == "https://news.example/0"
    assert m.extra["publisher"] == {"name": "The Paper", "url": "https://paper.example"}
    assert first.cursor["etag"] and first.cursor["modified"]

    second = fetch(server, first.cursor)
    assert second.not_modified and second.mentions == []
    assert server.requests[-1].headers["If-None-Match"] == first.cursor["etag"]
    assert server.requests[-1].status == 304

    # The feed changes: only the new entry comes back, even though old ones are still listed.
    server.set_feed("/feed", rss_feed(items(1, start=3) + items(3)))
    third = fetch(server, second.cursor)
    assert [m.id for m in third.mentions] == ["g3"]


def test_feed_without_validators_is_deduplicated_by_seen_ids(server: RSSServer) -> None:
    server.set_feed("/feed", rss_feed(items(2)))
    first = fetch(server, {})
    cursor = {k: v for k, v in first.cursor.items() if k not in ("etag", "modified")}
    again = fetch(server, cursor)
    assert not again.not_modified and again.mentions == []


def test_atom_is_read_too(server: RSSServer) -> None:
    server.set_feed(
        "/atom",
        atom_feed([{"id": "urn:1", "title": "Acme recall", "updated": NOW, "author": "Ann"}]),
        content_type="application/atom+xml",
    )
    page = fetch(server, {}, "/atom")
    assert [(m.id, m.text, m.author, m.created_at) for m in page.mentions] == [
        ("urn:1", "Acme recall", "Ann", NOW)
    ]


def test_rate_limit_is_transient_with_retry_after(server: RSSServer) -> None:
    server.set_feed("/feed", rss_feed(items(1)))
    server.fail_next("/feed", 429, {"Retry-After": "120"})
    with pytest.raises(SourceError) as err:
        fetch(server, {})
    assert (err.value.status, err.value.permanent, err.value.retry_after_s) == (429, False, 120.0)
    assert [m.id for m in fetch(server, {}).mentions] == ["g0"]  # and it recovers


def test_server_error_is_transient_and_gone_is_permanent(server: RSSServer) -> None:
    server.set_feed("/feed", rss_feed(items(1)))
    server.fail_next("/feed", 503)
    with pytest.raises(SourceError) as err:
        fetch(server, {})
    assert not err.value.permanent
    server.gone.add("/old")
    with pytest.raises(SourceError) as gone:
        fetch(server, {}, "/old")
    assert gone.value.permanent and gone.value.status == 410


def test_permanent_redirect_moves_the_cursor(server: RSSServer) -> None:
    server.set_feed("/new", rss_feed(items(1)))
    server.redirect("/feed", server.url("/new"), 301)
    page = fetch(server, {})
    assert page.cursor["url"] == server.url("/new") and len(page.mentions) == 1
    server.redirect("/tmp", server.url("/new"), 302)
    temp = fetch(server, {}, "/tmp")
    assert "url" not in temp.cursor


def test_broken_document_is_a_payload_error(server: RSSServer) -> None:
    server.set_feed("/feed", b"<html><body>Not a feed <div></body>", content_type="text/html")
    with pytest.raises(PayloadError, match="not"):
        fetch(server, {})


def test_hostile_entry_text_stays_inert(server: RSSServer) -> None:
    hostile = {"title": "<script>alert(1)</script>Acme", "guid": "x", "pubDate": NOW}
    server.set_feed("/feed", rss_feed([hostile]))
    (m,) = fetch(server, {}).mentions
    assert "<script>" not in m.text and "Acme" in m.text


def test_unreachable_server_is_transient() -> None:
    with make_client(timeout=2) as client, pytest.raises(SourceError) as err:
        RSSConnector().fetch(client, Query("acme", "rss", "http://127.0.0.1:9/feed"), {}, NOW)
    assert not err.value.permanent


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert retry_after("30", NOW) == 30.0
    assert retry_after("Tue, 01 Sep 2026 12:01:00 GMT", NOW) == 60.0
    assert retry_after("soon", NOW) is None
