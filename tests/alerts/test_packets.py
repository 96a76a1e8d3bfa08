"""Briefing packet v2: the five answers first, distinct top posts, real themes, a condensed
timeline, drafts by crisis kind, every format, and every version kept (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from alerts.packets import (
    build_packet,
    get_version,
    list_versions,
    packet_email,
    packet_summary,
    refresh_packets,
    render_packet_html,
    render_packet_md,
    write_packet,
)
from tests.alerts.reporting import COPIED, HOSTILE, T0, build_incident, config, mention
from worker.ingest import store_mentions
from worker.storage.db import make_engine, make_sessionmaker, upgrade
from worker.storage.models import MentionRow

TZ = "Europe/Paris"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def built(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[sessionmaker[Session], int]]:
    """The scenario built once per backend for the tests that only read it."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('packets') / 'tocsin.db'}"
        upgrade(url)
    else:
        url = request.getfixturevalue("pg_database_factory")()
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    yield sessions, build_incident(sessions, config())
    engine.dispose()


def test_first_screen_answers_five_questions_in_about_80_words(
    built: tuple[sessionmaker[Session], int],
) -> None:
    """What, since when, how big (growing or fading), where, who is on it and the next update."""
    cfg = config()
    sessions, inc = built
    with sessions() as s:
        p = build_packet(s, inc, T0 + timedelta(minutes=60), TZ, cfg)
    a = p["answers"]
    assert set(a) == {"what", "since", "size", "where", "who"}
    assert a["what"].startswith("A product safety concern")  # the crisis kind, read from the posts
    assert a["since"].startswith("Fri 06 Nov 15:00 CET")  # opened, in the team's zone
    assert f"Since {a['since']}" in packet_summary(p)  # the summary says "Since", not the answer
    assert re.search(r"\d+ mentions, \d+% negative", a["size"])
    assert any(w in a["size"] for w in ("growing", "fading", "steady"))
    assert a["where"].startswith("Mostly ")
    assert "alice is on it (since 15:20 CET)" in a["who"] and "Next update by" in a["who"]
    assert len(packet_summary(p).split()) <= 90


def test_how_big_is_counted_from_the_posts_with_each_author_once(
    sessions: sessionmaker[Session],
) -> None:
    """Mentions, authors, negative share and combined followers, counted here from the stored
    rows; an author who posts three more times adds mentions, not followers."""
    cfg = config()
    inc = build_incident(sessions, cfg)
    again = [
        mention(20_000 + k, T0 + timedelta(minutes=k), f"Still no answer from Lumio ({k})",
                author="angry4", followers=900_000)
        for k in range(3)
    ]  # fmt: skip
    with sessions.begin() as s:
        store_mentions(s, again, T0 + timedelta(minutes=5), topic="lumio")
    now = T0 + timedelta(minutes=60)
    with sessions() as s:
        p = build_packet(s, inc, now, TZ, cfg)
        rows = s.execute(
            select(MentionRow.author, MentionRow.author_followers, MentionRow.label).where(
                MentionRow.created_at >= T0 - timedelta(hours=1), MentionRow.created_at < now
            )
        ).all()
    followers: dict[str, int] = {}
    for r in rows:
        followers[r.author] = max(followers.get(r.author, 0), r.author_followers)
    assert sum(r.author == "angry4" for r in rows) == 4
    assert p["size"]["mentions"] == len(rows) and p["size"]["authors"] == len(followers)
    assert p["size"]["reach"] == sum(followers.values())
    assert p["size"]["negative_pct"] == round(100 * sum(r.label == "neg" for r in rows) / len(rows))


def test_first_screen_is_in_the_team_language(built: tuple[sessionmaker[Session], int]) -> None:
    """`[reports] language = "fr"`: the five answers, their labels and the headline in French,
    dates included; the web page, the e-mail and the text say them so."""
    sessions, inc = built
    with sessions() as s:
        p = build_packet(s, inc, T0 + timedelta(minutes=60), TZ, config('language = "fr"\n'))
    a = p["answers"]
    assert [label for _, label in p["answer_labels"]] == ["Quoi", "Depuis", "Ampleur", "Où", "Qui"]
    assert p["headline"] == "Lumio : un problème de sécurité produit"
    assert a["what"].startswith("Un problème de sécurité produit")
    assert a["since"].startswith("ven. 06 nov. 15:00 CET")
    assert re.search(r"\d+ mentions, \d+ % négatives", a["size"])
    assert a["where"].startswith("Surtout ")
    assert "alice s'en occupe (depuis 15:20 CET)" in a["who"] and "Prochain point" in a["who"]
    assert f"{a['what']} Depuis ven. 06 nov. 15:00 CET" in packet_summary(p)
    assert len(packet_summary(p).split()) <= 90
    html = render_packet_html(p)
    assert "<dt>Quoi</dt>" in html and "<dt>What</dt>" not in html
    parts = packet_email(p)
    assert f"Qui: {a['who']}" in parts.text and "Lumio : un problème" in parts.html


def test_what_we_cannot_see_is_named_in_one_line(built: tuple[sessionmaker[Session], int]) -> None:
    """Platforms with no query or credentials: "we cannot see X posts" in one line; a source that
    refused our credentials: said with the time of the last try."""
    sessions, inc = built
    with sessions() as s:
        p = build_packet(s, inc, T0 + timedelta(minutes=60), TZ, config())
    (blind,) = [u for u in p["unknown"] if u.startswith("We cannot see")]
    assert blind.endswith("posts: no query or credentials are configured for them.")
    assert "x, youtube" in blind or "x or youtube" in blind
    assert "mastodon" not in blind  # seen in the posts
    assert "Whether news picked it up: we watch no news feed for this topic." in p["unknown"]


@pytest.mark.parametrize(
    ("texts", "cat", "en", "fr"),
    [
        (["the app is down again", "outage since noon, not working"], "service_outage",
         "cannot use Lumio", "ne peuvent pas utiliser Lumio"),
        (["they leaked my data", "a breach of customer data"], "data_privacy",
         "security of data", "sécurité des données"),
        (["the CEO insulted staff", "the ceo must resign"], "executive_conduct",
         "leadership", "direction"),
        (["worst customer care ever", "still waiting for my refund"], "viral_complaint",
         "we are listening", "à votre écoute"),
        (["my lamp caught fire", "it overheated and melted"], "product_safety",
         "Your safety comes first", "Votre sécurité passe avant tout"),
    ],
)  # fmt: skip
def test_holding_statements_are_adapted_to_the_kind_of_crisis(
    texts: list[str], cat: str, en: str, fr: str
) -> None:
    from datetime import UTC, datetime

    from alerts.packets.words import category, holding_statements

    assert category(texts) == cat
    drafts = holding_statements(cat, "Lumio", datetime(2026, 11, 6, 16, tzinfo=UTC), TZ)
    assert [d["lang"] for d in drafts] == ["en", "fr"]
    assert en in drafts[0]["text"] and fr in drafts[1]["text"] and "17:00 CET" in drafts[0]["text"]


def test_the_chart_marks_the_opening_and_the_acknowledgement(
    built: tuple[sessionmaker[Session], int],
) -> None:
    sessions, inc = built
    with sessions() as s:
        p = build_packet(s, inc, T0 + timedelta(minutes=60), TZ, config())
    chart = p["chart"]
    assert [(m["label"], m["at"]) for m in chart["marks"]] == [
        ("opened", T0.isoformat()),
        ("acknowledged", (T0 + timedelta(minutes=20)).isoformat()),
    ]
    # From a day before the opening, per 30 minutes, negatives never above mentions.
    assert chart["times"][0] <= (T0 - timedelta(days=1)).isoformat()
    assert len(chart["mentions"]) == len(chart["negative"]) == len(chart["times"])
    assert all(n <= m for n, m in zip(chart["negative"], chart["mentions"], strict=True))
    assert sum(chart["negative"]) > 0


def test_top_posts_are_distinct_texts_with_a_copy_count_and_themes_are_real(
    built: tuple[sessionmaker[Session], int],
) -> None:
    cfg = config()
    sessions, inc = built
    with sessions() as s:
        p = build_packet(s, inc, T0 + timedelta(minutes=60), TZ, cfg)
    texts = [t["text"] for t in p["top_posts"]]
    assert len(texts) == len(set(texts))  # never the same text twice
    copied = next(t for t in p["top_posts"] if t["text"] == COPIED)
    assert copied["copies"] == 20 and copied["reach"] >= 900_000  # merged, reach added up
    assert p["top_posts"][0]["text"] == COPIED  # the most-reached text first
    assert all(t["safe_url"].startswith("https://") for t in p["top_posts"])
    terms = [t["term"] for t in p["themes"]]
    assert "#lumiofire" in terms
    assert not {"about", "the", "and", "my"} & set(terms)
    # Nothing like these posts was said before: no lift to show, the theme is new.
    assert all(t["lift"] is None for t in p["themes"] if t["term"] == "#lumiofire")


def test_timeline_is_condensed_and_shows_unknown_kinds_plainly(
    built: tuple[sessionmaker[Session], int],
) -> None:
    cfg = config()
    sessions, inc = built
    with sessions() as s:
        p = build_packet(s, inc, T0 + timedelta(minutes=60), TZ, cfg)
    texts = [e["text"] for e in p["timeline"]]
    assert texts[0] == "Incident opened as SEV2 (negative surge)"
    assert texts[1] == "Paged alice"
    assert "Acknowledged by alice via link" in texts
    assert texts[-1] == "Note by bob: Legal is reviewing the statement"
    signal_rows = [e for e in p["timeline"] if e["kind"] == "signals"]
    assert len(signal_rows) == 2  # six signals: one row before the acknowledgement, one after
    assert signal_rows[0]["text"].startswith("4 new signals")
    assert len(p["timeline"]) == 6


def test_holding_statements_are_drafts_in_both_languages_team_language_first(
    built: tuple[sessionmaker[Session], int],
) -> None:
    cfg = config('language = "fr"\n')
    sessions, inc = built
    with sessions() as s:
        p = build_packet(s, inc, T0 + timedelta(minutes=60), TZ, cfg)
    langs = [h["lang"] for h in p["holding_statements"]]
    assert langs == ["fr", "en"]
    assert "sécurité" in p["holding_statements"][0]["text"]  # product safety, not generic
    assert "safety" in p["holding_statements"][1]["text"]
    html = render_packet_html(p)
    assert "DRAFT, adapt before use" in html


def test_packet_as_of_an_earlier_time_says_what_was_known_then(
    built: tuple[sessionmaker[Session], int],
) -> None:
    cfg = config()
    sessions, inc = built
    with sessions() as s:
        early = build_packet(s, inc, T0 + timedelta(minutes=10), TZ, cfg)
    assert early["acknowledged_by"] is None
    assert "Nobody has acknowledged it yet" in early["answers"]["who"]
    assert "Who is handling it: nobody has acknowledged yet." in early["unknown"]
    assert all("Note" not in e["text"] for e in early["timeline"])


def test_every_version_is_kept_and_regenerated_only_when_the_incident_changes(
    sessions: sessionmaker[Session],
) -> None:
    cfg = config()
    inc = build_incident(sessions, cfg)
    for minutes in (1, 2, 21, 22, 41):
        with sessions.begin() as s:
            refresh_packets(s, cfg, T0 + timedelta(minutes=minutes))
    with sessions() as s:
        versions = list_versions(s, inc)
        # T0+1: opened and paged; T0+2: nothing new; T0+21: acknowledged; T0+22: nothing;
        # T0+41: the note.
        assert [v["version"] for v in versions] == [1, 2, 3]
        first = get_version(s, inc, 1)
        second = get_version(s, inc, 2)
    assert first is not None and second is not None
    assert first["acknowledged_by"] is None and first["generated_at"] == "Fri 06 Nov 15:01 CET"
    assert second["acknowledged_by"] == "alice"


def test_every_format_is_written_and_escapes_hostile_text(
    built: tuple[sessionmaker[Session], int], tmp_path: Path
) -> None:
    cfg = config()
    sessions, inc = built
    with sessions() as s:
        p = build_packet(s, inc, T0 + timedelta(minutes=60), TZ, cfg)
    assert any(t["text"] == HOSTILE for t in p["top_posts"])
    index = write_packet(tmp_path, p)
    names = sorted(x.name for x in tmp_path.iterdir())
    assert names == ["chart.png", "index.html", "packet.json", "packet.md", "packet.pdf"]
    html = index.read_text(encoding="utf-8")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'src="data:image/png;base64,' in html  # the chart, with no request to make
    md = render_packet_md(p)
    assert "](javascript:" not in md and "<script>" not in md
    assert (tmp_path / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = " ".join(page.extract_text() for page in PdfReader(str(tmp_path / "packet.pdf")).pages)
    flat = " ".join(text.split())
    for answer in p["answers"].values():
        assert " ".join(answer.split())[:40] in flat


def test_web_page_links_every_kept_version_and_shows_what_was_said_then(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from alerts.tokens import make_view_token
    from alerts.web import create_app
    from tests.alerts.scenario import SECRET, make_runtime

    rt = make_runtime(tmp_path)
    try:
        cfg = config()
        inc = build_incident(rt.sessions, cfg)
        for minutes in (1, 21):
            with rt.sessions.begin() as s:
                refresh_packets(s, cfg, T0 + timedelta(minutes=minutes))
        client = TestClient(create_app(lambda: rt, clock=lambda: T0 + timedelta(minutes=50)))
        view = make_view_token(SECRET, inc, T0 + timedelta(days=1))
        page = client.get(f"/incidents/{inc}/packet", params={"t": view}).text
        assert f'href="/incidents/{inc}/packet/v/1?t={view}"' in page
        assert f'href="/incidents/{inc}/packet/v/2?t={view}"' in page
        first = client.get(f"/incidents/{inc}/packet/v/1", params={"t": view})
        assert first.status_code == 200
        assert "version 1" in first.text and "Nobody has acknowledged it yet" in first.text
        assert client.get(f"/incidents/{inc}/packet/v/9", params={"t": view}).status_code == 404
        other = make_view_token(SECRET, inc + 1, T0 + timedelta(days=1))
        assert client.get(f"/incidents/{inc}/packet/v/1", params={"t": other}).status_code == 403
    finally:
        rt.dispose()
