"""A small crisis built straight into the database, for the packet and report tests.

Two calm days of Lumio mentions, then a burst of negative posts where one text is copied many
times, one post is hostile markup, and "about" is everywhere; an incident opened by a signal,
paged, updated by many signals, acknowledged by alice, and given a note by bob (a kind of
timeline row the packet code does not know by name).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from alerts.service import acknowledge, escalation_tick, observe
from worker.config import Config, parse_config
from worker.ingest import store_mentions
from worker.model import Evidence, Mention, Signal
from worker.pipeline import store_signals
from worker.storage.models import IncidentEvent

T0 = datetime(2026, 11, 6, 14, 0, tzinfo=UTC)  # a Friday; ISO week 2026-W45
HOSTILE = '<script>alert("x")</script> Lumio *burned* my [desk](javascript:alert(1)), terrible and dangerous'
COPIED = "My Lumio lamp caught fire about an hour ago #LumioFire"

CONFIG = """
[tocsin]
timezone = "Europe/Paris"

[[topics]]
name = "lumio"
display_name = "Lumio"

[people.alice]
name = "Alice Martin"
email = "alice@example.com"

[people.bob]
name = "Bob Durand"
email = "bob@example.com"

[people.carol]
name = "Carol Ngata"
email = "carol@example.com"

[groups]
oncall = ["alice"]
leadership = ["carol", "bob"]

[reports]
weekly = "Mon 09:00"
recipients = "leadership"
channels = ["console"]
"""


def config(extra: str = "") -> Config:
    return parse_config(CONFIG + extra)


def mention(i: int, at: datetime, text: str, **kw: object) -> Mention:
    platform = str(kw.pop("platform", ("mastodon", "bluesky", "reddit")[i % 3]))
    return Mention(
        platform,
        f"{platform}-{i}",
        at,
        text,
        url=f"https://social.example/{platform}/{i}",
        author=str(kw.pop("author", f"user{i % 50}")),
        author_followers=int(kw.pop("followers", 100 + i)),  # type: ignore[call-overload]
        lang=str(kw.pop("lang", "en")),
        **kw,  # type: ignore[arg-type]
    )


def calm(start: datetime, hours: int, first_id: int = 0) -> list[Mention]:
    texts = [
        "Love my Lumio lamp, great light for reading",
        "Lumio support sorted my pairing issue in five minutes, great service",
        "Does anyone know if Lumio bulbs work with Home Assistant?",
        "Lumio lamp arrived today, nice packaging",
    ]
    out = []
    for h in range(hours):
        for k in range(3):
            i = first_id + h * 3 + k
            out.append(mention(i, start + timedelta(hours=h, minutes=17 * k), texts[i % 4]))
    return out


VARIANTS = [
    "Lumio battery overheated and melted the base #LumioFire",
    "Thinking about a lawsuit, my Lumio lamp scorched the desk #LumioFire",
    "Lumio still silent about the overheating batteries? #LumioFire",
    "Smoke from my Lumio lamp last night, battery overheated",
    "Ma lampe Lumio a surchauffé, la batterie a fondu #LumioDanger",
    "Lumio lamp overheated in the kids room, unplugging all of them",
    "Is anyone else's Lumio battery overheating? Mine is too hot to touch",
]


def burst(first_id: int = 10_000) -> list[Mention]:
    out = []
    for j in range(40):
        at = T0 - timedelta(minutes=30) + timedelta(minutes=2 * j)
        text = COPIED if j % 2 == 0 else HOSTILE if j == 7 else VARIANTS[j % len(VARIANTS)]
        out.append(
            mention(
                first_id + j,
                at,
                text,
                author=f"angry{j}",
                followers={4: 900_000, 7: 200_000}.get(j, 5_000),
            )
        )
    return out


def build_incident(sessions: sessionmaker[Session], cfg: Config) -> int:
    """The scenario above; returns the incident id. Times: opened T0, acknowledged T0+20 min."""
    with sessions.begin() as s:
        # Stored as ingest stores them (scored, deduplicated); packets and reports read mentions,
        # not buckets, so the bucket recount is left out to keep the tests fast.
        store_mentions(s, calm(T0 - timedelta(days=2), 46), T0, topic="lumio")
        store_mentions(s, burst(), T0 + timedelta(minutes=60), topic="lumio")
    ev = Evidence(T0 - timedelta(minutes=30), T0, 40, 5, 1, 9, 1e-9)
    first = Signal("lumio", "negative_surge", T0, 0.99, 2, "Negative mentions of Lumio rose.", ev)
    with sessions.begin() as s:
        (inc_id,) = observe(s, cfg, store_signals(s, [first]), T0)
    escalation_tick(sessions, cfg, T0, base_url="http://t", secret_key="k" * 20)
    for k in range(1, 7):  # six evaluations with a new signal each: one condensed timeline row
        at = T0 + timedelta(minutes=5 * k)
        sig = Signal("lumio", "negative_surge", at, 0.99, 2, f"Negative mentions ({k}).", ev)
        with sessions.begin() as s:
            observe(s, cfg, store_signals(s, [sig]), at)
    with sessions.begin() as s:
        acknowledge(s, inc_id, by="alice", via="link", now=T0 + timedelta(minutes=20))
    with sessions.begin() as s:
        s.add(
            IncidentEvent(
                incident_id=inc_id,
                at=T0 + timedelta(minutes=40),
                kind="note",
                actor="bob",
                detail={"text": "Legal is reviewing the statement"},
            )
        )
    return inc_id
