"""Generate the demo scenario shipped with tocsin (tocsin/data/demo_lumio.jsonl).

Lumio is a fictional maker of smart lamps. Five calm weekdays of mentions in English and French
with a daily rhythm, then on Friday afternoon a battery-overheating story breaks: volume and
negativity surge on several platforms, a news site picks it up, and it fades by the evening.
Deterministic (fixed seed), so the demo tells the same story every time.

    python examples/make_demo_scenario.py > tocsin/data/demo_lumio.jsonl
"""

from __future__ import annotations

import json
import math
import random
import sys
from datetime import UTC, datetime, timedelta

START = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday
CRISIS = datetime(2026, 11, 6, 14, 0, tzinfo=UTC)  # Friday 14:00 UTC
END = datetime(2026, 11, 6, 20, 0, tzinfo=UTC)

CALM_EN = [
    ("pos", "Loving my new Lumio lamp, the warm white is perfect for reading"),
    ("pos", "Lumio support sorted my pairing issue in 5 minutes, great service"),
    ("pos", "The Lumio app update is smooth, sunrise mode is brilliant"),
    ("neu", "Does anyone know if Lumio bulbs work with Home Assistant?"),
    ("neu", "Lumio announced a new colour range for next month"),
    ("neu", "Comparing Lumio and other smart lamps for the living room"),
    ("neg", "My Lumio lamp keeps disconnecting from wifi, annoying"),
    ("pos", "Best purchase this year: the Lumio desk lamp #cosy"),
]
CALM_FR = [
    ("pos", "J'adore ma lampe Lumio, la lumière est super douce"),
    ("pos", "Le service client Lumio a été très efficace, merci"),
    ("neu", "Quelqu'un a testé la nouvelle appli Lumio ?"),
    ("neu", "Lumio sort une nouvelle gamme de couleurs le mois prochain"),
    ("neg", "Ma lampe Lumio ne se connecte plus au wifi, c'est pénible"),
    ("pos", "Très contente de ma lampe Lumio, je recommande"),
]
CRISIS_EN = [
    "My Lumio lamp battery overheated and melted the base #LumioFire",
    "Lumio lamp caught fire on my kid's desk. This is dangerous #LumioFire",
    "Is Lumio going to recall these lamps? Mine is burning hot #LumioFire",
    "Avoid Lumio. Battery smoke in the bedroom last night. Terrible. #LumioFire",
    "Lumio still silent about the overheating batteries? Unacceptable #LumioFire",
    "Thinking about a lawsuit after my Lumio lamp scorched the table #LumioFire",
    "Boycott Lumio until they explain the battery fires #LumioFire",
]
CRISIS_FR = [
    "Ma lampe Lumio a surchauffé, la batterie a fondu ! #LumioDanger",
    "Lumio doit lancer un rappel, ma lampe a pris feu #LumioDanger",
    "Honteux, Lumio ne répond pas sur les batteries qui brûlent #LumioDanger",
    "Plus jamais Lumio, de la fumée dans la chambre cette nuit #LumioDanger",
    "Merci pour rien Lumio, ma lampe est dangereuse #LumioDanger",
]
NEWS = [
    "Lumio smart lamps under scrutiny after reports of overheating batteries",
    "Consumer group urges Lumio to recall lamps over fire risk",
]
PLATFORMS = ["mastodon", "bluesky", "reddit"]


def calm_rate(at: datetime) -> float:
    """Mentions per hour on a normal day: quiet at night, busiest early evening (UTC)."""
    hour = at.hour + at.minute / 60
    return 3 + 11 * max(0.0, math.sin(math.pi * (hour - 6) / 17))


def main() -> None:
    rnd = random.Random(20261106)
    out = []
    n = 0

    def add(at: datetime, platform: str, text: str, author: str, lang: str, followers: int) -> None:
        nonlocal n
        n += 1
        out.append(
            {
                "platform": platform,
                "id": f"{platform}-{n:06d}",
                "created_at": at.isoformat(),
                "text": text,
                "author": author,
                "author_followers": followers,
                "lang": lang,
                "likes": rnd.randint(0, 30),
                "reposts": rnd.randint(0, 8),
                "replies": rnd.randint(0, 5),
                "topic": "lumio",
                "url": f"https://social.example/{platform}/{n}",
            }
        )

    t = START
    while t < END:
        minutes = 5
        rate = calm_rate(t) * minutes / 60
        for _ in range(_poisson(rnd, rate)):
            at = t + timedelta(seconds=rnd.randint(0, minutes * 60 - 1))
            fr = rnd.random() < 0.3
            _, text = rnd.choice(CALM_FR if fr else CALM_EN)
            add(
                at,
                rnd.choice(PLATFORMS),
                text,
                f"user{rnd.randint(1, 900)}",
                "fr" if fr else "en",
                rnd.randint(20, 3000),
            )
        if t >= CRISIS:
            # The story: ramps up for an hour, peaks, then halves every 70 minutes.
            elapsed = (t - CRISIS).total_seconds() / 3600
            intensity = min(1.0, elapsed + 0.15) * (0.5 ** max(0.0, (elapsed - 1.2) / 1.2))
            for _ in range(_poisson(rnd, 38 * intensity)):
                at = t + timedelta(seconds=rnd.randint(0, minutes * 60 - 1))
                fr = rnd.random() < 0.35
                text = rnd.choice(CRISIS_FR if fr else CRISIS_EN)
                add(
                    at,
                    rnd.choice(PLATFORMS),
                    text,
                    f"angry{rnd.randint(1, 2500)}",
                    "fr" if fr else "en",
                    rnd.randint(50, 20000),
                )
        t += timedelta(minutes=minutes)
    add(CRISIS + timedelta(minutes=55), "rss", NEWS[0], "Example Times", "en", 2_000_000)
    add(CRISIS + timedelta(minutes=95), "rss", NEWS[1], "Le Quotidien Exemple", "en", 900_000)
    out.sort(key=lambda r: r["created_at"])
    for row in out:
        sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")


def _poisson(rnd: random.Random, lam: float) -> int:
    # Knuth's method: fine for the small rates used here.
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rnd.random()
        if p <= limit:
            return k
        k += 1


if __name__ == "__main__":
    main()
