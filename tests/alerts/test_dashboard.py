"""The dashboard pages through HTTP (FastAPI TestClient) on real SQLite and PostgreSQL: who sees
what, who may act, CSRF, the live JSON, the settings page's secrets and test notification, and
hostile mention text escaped on every page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from alerts.actions import acknowledge
from alerts.auth import Role
from alerts.dashboard.series import series
from alerts.web import create_app
from tests.alerts.authkit import LOCAL, add_user, form_token, login, runtime_on
from tests.alerts.scenario import T0, Clock, open_incident
from worker.ingest import ingest_page
from worker.model import Mention
from worker.runtime import Runtime
from worker.storage.models import (
    Acknowledgement,
    DeliveryAttempt,
    Incident,
    IncidentEvent,
    Notification,
)

PAGES = [
    "/",
    "/topics/acme",
    "/topics/acme?span=7d",
    "/topics/acme?span=30d&q=scam&label=neg",
    "/incidents",
    "/incidents?state=all",
    "/incidents/1",
    "/oncall",
    "/sources",
    "/reports",
    "/reports/weekly/2026-W36",
    "/settings",
]
RAW = "<img src=x onerror=alert(1)>"
ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"


@pytest.fixture
def rt(db_url: str, tmp_path: Path) -> Iterator[Runtime]:
    runtime = runtime_on(db_url, tmp_path)
    open_incident(runtime)
    for name, role in (("vera", Role.viewer), ("rita", Role.responder), ("adam", Role.admin)):
        add_user(runtime, name, role)
    yield runtime
    runtime.dispose()


@pytest.fixture
def clock() -> Clock:
    c = Clock()
    c.now = T0 + timedelta(minutes=5)
    return c


def signed_in(rt: Runtime, clock: Clock, name: str) -> TestClient:
    c = TestClient(create_app(lambda: rt, clock=clock), client=LOCAL, follow_redirects=False)
    assert login(c, name).status_code == 303  # type: ignore[attr-defined]
    return c


def csrf_of(c: TestClient) -> str:
    return form_token(c.get("/incidents/1").text)


def state(rt: Runtime) -> Incident:
    with rt.sessions() as s:
        inc = s.get(Incident, 1)
        assert inc is not None
        s.expunge(inc)
        return inc


def test_every_page_renders_for_a_viewer_with_no_form_to_act(rt: Runtime, clock: Clock) -> None:
    """A viewer (leadership) sees every page; no page offers an action or a test form, and the
    hostile mention text and display name show as text, never as markup."""
    c = signed_in(rt, clock, "vera")
    for path in PAGES:
        r = c.get(path)
        assert r.status_code == 200, path
        html = r.text
        assert RAW not in html and "Acme <Corp>" not in html, path
        assert "<script>alert" not in html, path
        posts = re.findall(r'<form method="post" action="([^"]+)"', html)
        assert posts in ([], ["/logout"]), (path, posts)
        assert ">Acknowledge<" not in html and "Send test" not in html, path
    assert ESCAPED in c.get("/topics/acme").text  # the mention list and top posts
    assert ESCAPED in c.get("/incidents/1").text  # the signal's explanation


def test_a_forged_post_from_a_viewer_is_refused(rt: Runtime, clock: Clock) -> None:
    """Even with its own valid CSRF token, a viewer cannot act: 403 and nothing changes."""
    c = signed_in(rt, clock, "vera")
    token = form_token(c.get("/").text)  # the sign-out form's token: a valid one for this session
    for action, extra in (
        ("acknowledge", {}),
        ("resolve", {}),
        ("snooze", {"minutes": "30"}),
        ("note", {"text": "forged"}),
        ("reassign", {"to": "alice"}),
    ):
        r = c.post(f"/incidents/1/{action}", data={"csrf_token": token, **extra})
        assert r.status_code == 403, action
    r = c.post(
        "/settings/test-notification",
        data={"csrf_token": token, "channel": "console", "to": "alice"},
    )
    assert r.status_code == 403
    inc = state(rt)
    assert inc.state == "triggered" and inc.acknowledged_by is None
    with rt.sessions() as s:
        kinds = s.scalars(select(IncidentEvent.kind)).all()
        assert "note" not in kinds and "acknowledged" not in kinds


def test_missing_or_wrong_csrf_token_is_refused(rt: Runtime, clock: Clock) -> None:
    c = signed_in(rt, clock, "rita")
    assert c.post("/incidents/1/acknowledge", data={"minutes": "5"}).status_code == 403
    assert c.post("/incidents/1/acknowledge", data={"csrf_token": "x" * 40}).status_code == 403
    assert state(rt).state == "triggered"


def test_a_responder_acts_and_each_action_shows_in_the_timeline(rt: Runtime, clock: Clock) -> None:
    """Snooze, acknowledge, note, reassign, resolve: each through alerts.actions with the account
    name and via=dashboard, each redirecting back to the incident and shown in its timeline."""
    c = signed_in(rt, clock, "rita")
    page = c.get("/incidents/1").text
    assert ">Acknowledge<" in page and 'name="csrf_token"' in page
    token = form_token(page)
    steps = [
        ("snooze", {"minutes": "30"}, "snoozed"),
        ("acknowledge", {}, "acknowledged"),
        ("note", {"text": f"Statement drafted {RAW}"}, "acknowledged"),
        ("reassign", {"to": "alice"}, "triggered"),
        ("resolve", {}, "resolved"),
    ]
    for action, extra, expected in steps:
        clock.now += timedelta(minutes=1)
        r = c.post(f"/incidents/1/{action}", data={"csrf_token": token, **extra})
        assert r.status_code == 303, (action, r.text)
        assert r.headers["location"].startswith("/incidents/1?done="), action
        assert state(rt).state == expected, action
    with rt.sessions() as s:
        events = s.scalars(select(IncidentEvent).order_by(IncidentEvent.id)).all()
        ours = [e for e in events if e.actor == "rita"]
        assert [e.kind for e in ours] == [
            "snoozed",
            "acknowledged",
            "note",
            "reassigned",
            "resolved",
        ]
        assert all(e.detail.get("via") == "dashboard" for e in ours)
        ack = s.scalars(select(Acknowledgement)).one()
        assert (ack.by, ack.via) == ("rita", "dashboard")
    html = c.get("/incidents/1?done=done").text
    assert "Acknowledged by rita via dashboard" in html
    assert "Snoozed by rita" in html and "Reassigned by rita" in html
    assert "Resolved by rita" in html
    assert f"Statement drafted {ESCAPED}" in html and RAW not in html
    assert ">Acknowledge<" not in html  # resolved: nothing left to act on but a note


def test_live_json_follows_an_acknowledgement_made_elsewhere(rt: Runtime, clock: Clock) -> None:
    """What the page's script fetches changes when someone acknowledges from another client."""
    c = signed_in(rt, clock, "vera")
    before = c.get("/live/incidents/1").json()
    assert before["state"] == "triggered"
    with rt.sessions.begin() as s:
        acknowledge(s, 1, by="alice", via="slack", now=clock.now)
    after = c.get("/live/incidents/1").json()
    assert after["state"] == "acknowledged"
    assert after["timeline"][-1]["text"] == "Acknowledged by alice via slack"
    # the pages with their delivery status: the pending page is cancelled by the acknowledgement
    assert [n["status"] for n in before["notifications"]] == ["pending"]
    assert [(n["status"], n["error"]) for n in after["notifications"]] == [
        ("cancelled", "incident acknowledged")
    ]
    with rt.sessions.begin() as s:
        note = s.scalars(select(Notification).order_by(Notification.id)).first()
        assert note is not None
        s.add(
            DeliveryAttempt(
                notification_id=note.id, at=clock.now, channel=note.channel, ok=False, error="503"
            )
        )
    assert c.get("/live/incidents/1").json()["attempts"] == before["attempts"] + 1
    cards = c.get("/live/overview").json()["cards"]
    assert cards[0]["incident"]["state"] == "acknowledged"
    anonymous = TestClient(create_app(lambda: rt, clock=clock), client=LOCAL)
    assert anonymous.get("/live/incidents/1").status_code == 401


def test_pages_need_an_account_once_one_exists(rt: Runtime, clock: Clock) -> None:
    anonymous = TestClient(
        create_app(lambda: rt, clock=clock), client=LOCAL, follow_redirects=False
    )
    r = anonymous.get("/incidents/1")
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")


def test_an_admin_sends_a_test_notification_through_the_outbox(rt: Runtime, clock: Clock) -> None:
    c = signed_in(rt, clock, "adam")
    page = c.get("/settings").text
    assert "Send test" in page
    r = c.post(
        "/settings/test-notification",
        data={"csrf_token": form_token(page), "channel": "console", "to": "alice"},
    )
    assert r.status_code == 303
    with rt.sessions() as s:
        n = s.scalars(select(Notification).where(Notification.role == "test")).one()
        assert (n.channel, n.recipient, n.status) == ("console", "alice", "sent")
    shown = c.get(r.headers["location"]).text
    assert "console → alice: sent" in shown
    bad = c.post(
        "/settings/test-notification",
        data={"csrf_token": form_token(page), "channel": "nope", "to": "alice"},
    )
    assert bad.status_code == 422 and "unknown channel &#39;nope&#39;" in bad.text
    responder = signed_in(rt, clock, "rita")
    assert "Send test" not in responder.get("/settings").text


def test_dashboard_pages_carry_a_script_policy_and_no_inline_script(
    rt: Runtime, clock: Clock
) -> None:
    c = signed_in(rt, clock, "rita")
    for path in PAGES:
        if path.startswith("/reports/"):
            continue  # the report page is the e-mail's page: no script at all, default policy
        r = c.get(path)
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "connect-src 'self'" in csp, path
        assert "unsafe-inline" not in csp, path
        assert re.findall(r"<script(?![^>]*\bsrc=)", r.text) == [], path
        assert " style=" not in r.text and "<style" not in r.text, path
    js = c.get("/static/dashboard.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert "innerHTML" not in js.text.replace("never innerHTML", "")
    assert c.get("/static/dashboard.css").headers["content-type"].startswith("text/css")
    for bad in ("/static/..%2Fweb.py", "/static/.hidden.js", "/static/nothing.js", "/static/x.py"):
        assert c.get(bad).status_code == 404, bad


def test_overview_puts_the_open_incident_first_and_counts_the_last_hour(
    db_url: str, tmp_path: Path, clock: Clock
) -> None:
    rt = runtime_on(db_url, tmp_path)
    try:
        with rt.sessions.begin() as s:  # a calm topic with mentions, alphabetically first
            page = [
                Mention(
                    "rss",
                    f"c{i}",
                    T0 - timedelta(minutes=10),
                    "Lovely lamp, works fine",
                    author=f"c{i}",
                )
                for i in range(2)
            ] + [
                Mention(
                    "rss",
                    "c9",
                    T0 - timedelta(minutes=9),
                    "Terrible, awful, broken. I hate it!",
                    author="c9",
                )
            ]
            ingest_page(s, page, T0, bucket_seconds=300, topic="aaa")
        open_incident(rt)
        c = TestClient(
            create_app(lambda: rt, clock=clock), client=LOCAL
        )  # no account yet: local admin
        cards = c.get("/live/overview").json()["cards"]
        assert [x["topic"] for x in cards] == ["acme", "aaa"]
        assert cards[0]["incident"]["id"] == 1 and cards[0]["last_hour"] == 3
        assert cards[1]["incident"] is None and cards[1]["last_hour"] == 3
        # The negative share counts texts, copies once: two copies of a happy post and one angry
        # post are 1 negative text of 2 (50 %), not 1 of 3 mentions.
        assert cards[1]["negative_pct"] == 50
        html = c.get("/").text
        assert html.index('data-topic="acme"') < html.index('data-topic="aaa"')
    finally:
        rt.dispose()


def test_settings_show_secrets_only_as_set_or_unset(
    db_url: str, tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.alerts.scenario import CONFIG
    from worker.config import parse_config

    monkeypatch.setenv("HOOK_SECRET", "whsec_c2VjcmV0LXZhbHVlLTEyMw==")
    monkeypatch.setenv("TOCSIN_API_TOKEN", "api-token-value-xyz")
    rt = runtime_on(db_url, tmp_path)
    rt.config = parse_config(
        CONFIG
        + '\n[channels.hook]\ntype = "webhook"\nurl = "https://hooks.example.com/T000/PATHSECRET123"\n'
        'secret_env = "HOOK_SECRET"\n'
    )
    try:
        c = TestClient(create_app(lambda: rt, clock=clock), client=LOCAL)
        html = c.get("/settings").text  # no account yet: loopback is the local admin
        for secret in (
            "PATHSECRET123",
            "c2VjcmV0LXZhbHVlLTEyMw",
            "api-token-value-xyz",
            "web-test-secret",
        ):
            assert secret not in html
        assert "$HOOK_SECRET (set)" in html
        assert "https://hooks.example.com + path (hidden)" in html
        assert re.search(r"TOCSIN_API_TOKEN</dt><dd>set<", html)
    finally:
        rt.dispose()


def test_topic_mentions_page_through_with_filters_kept(rt: Runtime, clock: Clock) -> None:
    with rt.sessions.begin() as s:
        page = [
            Mention(
                "mastodon",
                f"m{i}",
                T0 - timedelta(minutes=30, seconds=i),
                f"post number {i}",
                author="bob",
            )
            for i in range(60)
        ]
        ingest_page(s, page, T0, bucket_seconds=300, topic="acme")
    c = signed_in(rt, clock, "vera")
    first = c.get("/topics/acme?platform=mastodon").text
    assert first.count('<li class="mention">') == 50
    nxt = re.search(r'<a href="([^"]+)">older', first)
    assert nxt is not None and "platform=mastodon" in nxt.group(1)
    second = c.get(nxt.group(1).replace("&amp;", "&")).text
    assert second.count('<li class="mention">') == 10
    short = c.get("/topics/acme?q=ab")  # too short a search: said, and the newest shown
    assert short.status_code == 200 and "Mentions: " in short.text
    assert short.text.count('<li class="mention">') == 50
    only = c.get("/topics/acme?q=scam").text
    assert only.count('<li class="mention">') == 3 and ESCAPED in only


def test_usual_band_needs_three_days_and_reads_the_same_hour(sessions, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Four days with 4 mentions at 13:00-14:00 each: the band of that hour is 4–4; with two days
    there is no band yet."""
    with sessions.begin() as s:
        for d in range(1, 5):
            at = T0 - timedelta(days=d, minutes=30)
            page = [Mention("rss", f"d{d}-{i}", at, "hello", author=f"u{i}") for i in range(4)]
            ingest_page(s, page, T0, bucket_seconds=300, topic="t")
    with sessions() as s:
        got = series(s, "t", T0, timedelta(hours=24), timedelta(hours=1), align=False)
        assert got.high[-1] == 4 and got.low[-1] == 4
        assert got.mentions[-1] == 0
        young = series(
            s, "t", T0 - timedelta(days=2), timedelta(hours=24), timedelta(hours=1), align=False
        )
        assert young.high == []


def test_overview_series_are_kept_for_the_minute_only(sessions) -> None:  # type: ignore[no-untyped-def]
    """The live overview reads each topic's buckets once per minute of `now`, not once per tab
    per tick: a mention stored meanwhile shows from the next minute on."""
    from alerts.dashboard.overview import SeriesCache

    kept = SeriesCache()
    with sessions.begin() as s:
        ingest_page(
            s,
            [Mention("rss", "a", T0 - timedelta(minutes=7), "hi", author="u")],
            T0,
            bucket_seconds=300,
            topic="t",
        )
    with sessions() as s:
        assert kept(s, T0)[0]["t"].mentions[-1] == 1
    with sessions.begin() as s:
        ingest_page(
            s,
            [Mention("rss", "b", T0 - timedelta(minutes=6), "yo", author="v")],
            T0,
            bucket_seconds=300,
            topic="t",
        )
    with sessions() as s:
        assert kept(s, T0 + timedelta(seconds=30))[0]["t"].mentions[-1] == 1  # same minute: kept
        assert kept(s, T0 + timedelta(seconds=60))[0]["t"].mentions[-1] == 2  # next minute: read


def _fill_topics(sessions, names: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Four days of mentions for each topic (so every card has a usual band), plus today's."""
    with sessions.begin() as s:
        for name in names:
            for d in range(0, 5):
                at = T0 - timedelta(days=d, minutes=30)
                page = [
                    Mention("rss", f"{name}-{d}-{i}", at, f"hello {i}", author=f"u{i}")
                    for i in range(d + 1)
                ]
                ingest_page(s, page, T0, bucket_seconds=300, topic=name)


def test_overview_reads_every_card_in_a_constant_number_of_statements(sessions) -> None:  # type: ignore[no-untyped-def]
    """The overview's cards cost the same number of SQL statements for 2 topics as for 20 (one
    grouped bucket query, not one per topic), and each card's series equals the single-topic
    `series` it replaces."""
    from sqlalchemy import event

    from alerts.dashboard.overview import day_series, topic_cards
    from worker.config import default_config

    engine = sessions.kw["bind"]
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    counted: dict[int, int] = {}
    names = [f"t{i:02d}" for i in range(20)]
    for n, new in ((2, names[:2]), (20, names[2:])):
        _fill_topics(sessions, new)
        event.listen(engine, "before_cursor_execute", count)
        try:
            with sessions() as s:
                statements.clear()
                cards = topic_cards(s, default_config(names[:n]), T0)
                counted[n] = len(statements)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert len(cards) == n
    # incidents, sources, the buckets (+ a BEGIN on some drivers)
    assert counted[2] == counted[20] <= 4, counted
    from alerts.dashboard.svg import draw

    with sessions() as s:
        by_name = {c["topic"]: c for c in topic_cards(s, default_config(names), T0)}
        for name in names:
            one = day_series(s, name, T0)
            assert one.high, name  # a band: the history is read too
            spark = draw(one, width=160, height=36)
            card = by_name[name]
            assert card["spark"] == {"mentions": spark.mentions, "band": spark.band}
            assert card["mentions_24h"] == sum(one.mentions)
            assert card["last_hour"] == one.mentions[-1]
            assert card["usual"] == f"{one.low[-1]:g}–{one.high[-1]:g}"


def test_overview_cards_equal_the_topic_series_when_now_falls_inside_a_second(sessions) -> None:  # type: ignore[no-untyped-def]
    """`now` half a second after a bucket boundary (24 h after a bucket with mentions): that
    bucket is history for the grouped query as for `series`, on both backends."""
    from alerts.dashboard.overview import day_series, topic_cards
    from worker.config import default_config

    _fill_topics(sessions, ["a"])
    boundary = T0 - timedelta(minutes=30)  # a multiple of 5 minutes holding a bucket
    now = boundary + timedelta(days=1, milliseconds=500)
    with sessions() as s:
        card = topic_cards(s, default_config(["a"]), now)[0]
        one = day_series(s, "a", now)
        assert card["mentions_24h"] == sum(one.mentions)
        assert card["usual"] == (f"{one.low[-1]:g}–{one.high[-1]:g}" if one.high else "")
        assert card["negative_pct"] == (
            round(100 * sum(one.negative) / one.texts) if one.texts else None
        )
