"""Pieces of the packet's content (alerts/packets/content.py) checked against what they stand in
for: the chart band's percentiles against numpy's, the themes grouped by the keys ingest stored
against the themes of the texts alone; the category counts posts, not distinct texts."""

from __future__ import annotations

from itertools import combinations_with_replacement

import numpy as np

from alerts.packets.content import _themes, percentile
from alerts.packets.words import category
from worker.text import near_duplicate_key


def test_the_band_percentiles_are_numpys_to_the_last_bit() -> None:
    """Every sorted sample of 1 to 7 counts (a bin's same half-hour on the 7 days before) drawn
    from a few values, small and large: the same float as numpy.percentile."""
    values = (0, 1, 2, 3, 5, 13, 100, 4999)
    checked = 0
    for n in range(1, 8):
        for sample in combinations_with_replacement(values, n):
            for q in (10, 90, 25, 50, 75):
                got = percentile(list(sample), q)
                assert type(got) is float
                assert got == float(np.percentile(sample, q)), (sample, q)
                checked += 1
    assert checked == 5 * sum(
        len(list(combinations_with_replacement(values, n))) for n in range(1, 8)
    )


STORM = "My Lumio lamp caught fire about an hour ago #LumioFire"
WINDOW = [
    STORM,
    f"RT @anna: {STORM}",  # near-duplicates of one post: counted once
    f"RT @bob: {STORM} https://t.co/x1",
    f"{STORM.upper()} @lumio",
    "The Lumio lamp battery is swelling, scary #LumioFire",
    "Lumio lamp smoke in the kids room, battery hot",
    "Another Lumio lamp battery fire? #LumioDanger",
    "#LumioDanger my lamp battery melted",
]
BASELINE = ["Love my new Lumio lamp", "Lumio lamp looks great", "Lumio delivery was quick"] * 4


def test_themes_count_near_duplicates_once_with_or_without_the_stored_keys() -> None:
    keys = [near_duplicate_key(t) for t in WINDOW]
    base_keys = [near_duplicate_key(t) for t in BASELINE]
    from_texts = _themes(WINDOW, BASELINE)
    assert _themes(WINDOW, BASELINE, window_keys=keys, baseline_keys=base_keys) == from_texts
    # A row stored without a key (None) is keyed from its text.
    some = [k if i % 2 else None for i, k in enumerate(keys)]
    assert _themes(WINDOW, BASELINE, window_keys=some, baseline_keys=base_keys) == from_texts
    posts = {t["term"]: t["posts"] for t in from_texts}
    # The storm is one post of five distinct ones; "battery" is in four distinct posts.
    assert posts["#lumiofire"] == 2 and posts["battery"] == 4
    assert all(t["lift"] is None for t in from_texts)  # nothing like it said before


def test_the_category_counts_every_post_of_a_repeated_text() -> None:
    """Each distinct text is read once, but counts as many posts as say it: two posts are enough
    for a category, one is not (and case does not make a text another one)."""
    fire = "The charger caught FIRE last night"
    assert category([fire]) == "viral_complaint"
    assert category([fire, fire.lower()]) == "product_safety"
    many = [fire] * 3 + ["Worst support ever, nobody answers"] * 40
    assert category(many) == "viral_complaint"  # 3 of 43 posts: under a tenth
    assert category(many[:3] + many[3:20]) == "product_safety"  # 3 of 20
