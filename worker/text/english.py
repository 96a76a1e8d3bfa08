"""The English language pack: VADER's lexicon and rules, plus tocsin's social additions.

VADER (MIT) was built for social media and measures best of the lexicons on English tweets
(docs/benchmarks.md); tocsin reuses its lexicon, booster and negation lists, and adds the words and
phrases of customer complaints and crises it lacks (`data/en_social.txt`).
"""

from __future__ import annotations

from functools import lru_cache

from worker.text.engine import B_INCR, LanguagePack, build_phrases
from worker.text.lexicons import DATA, read_table, vader_disputed, vader_lexicon, words
from worker.text.preprocess import TOKEN

#: "like" is a sentiment verb after a subject or an auxiliary ("I like", "don't like"); elsewhere
#: it is a preposition or a filler ("looks like rain", "it was like 3am") and says nothing.
_LIKE_AFTER = frozenset(
    words(
        "i you we they u he she who people ppl would do did does don't didn't doesn't dont didnt "
        "really also just i'd we'd you'd they'd i'll you'll we'll will gonna to totally definitely "
        "actually still might can could should must always"
    )
)

PRAISE = frozenset(
    words(
        "thanks thank thx great congrats congratulations bravo perfect brilliant wonderful lovely "
        "awesome amazing fantastic nice love loving excellent superb"
    )
)
IRONY_MARKERS = frozenset(words("again usual yet sarcasm sarcastic smh 🙄 😒 🙃 🤡"))


def tokenize(text: str) -> list[str]:
    """Words keep their apostrophes ("don't"), typographic ones made straight."""
    if "’" in text:
        text = text.replace("’", "'")
    return TOKEN.findall(text)


@lru_cache(maxsize=1)
def pack() -> LanguagePack:
    from vaderSentiment.vaderSentiment import (
        BOOSTER_DICT,
        NEGATE,
        SENTIMENT_LADEN_IDIOMS,
        SPECIAL_CASES,
    )

    table: dict[str, float] = {}
    table.update({k: float(v) for k, v in SENTIMENT_LADEN_IDIOMS.items()})
    table.update({k: float(v) for k, v in SPECIAL_CASES.items()})
    table.update(read_table(DATA / "en_social.txt"))
    single, phrases = build_phrases(table, tokenize)
    # VADER's words less those its raters disputed (`vader_disputed`); tocsin's own entries win.
    disputed = vader_disputed()
    lexicon = {k.lower(): v for k, v in vader_lexicon().items() if k.lower() not in disputed}
    lexicon.update(vader_lexicon())  # case-sensitive emoticons (":D") stay reachable as written
    for word in disputed:
        lexicon.pop(word, None)
    lexicon.update(single)
    return LanguagePack(
        code="en",
        words=lexicon,
        phrases=phrases,
        # VADER's boosters, and "pretty" before a rated word ("pretty bad"): a degree adverb
        # there, as "quite" is, not the praise "pretty" (2.2) it is before a noun.
        boosters={k: float(v) for k, v in BOOSTER_DICT.items() if " " not in k}
        | {"pretty": B_INCR},
        # VADER's negations, and "no", which VADER reads as one before a lexicon word ("no good").
        negators=frozenset(w.lower() for w in NEGATE) | {"no"},
        contrast=frozenset({"but", "however"}),
        praise=PRAISE,
        irony_markers=IRONY_MARKERS,
        tokenize=tokenize,
        needs_before={"like": _LIKE_AFTER},
    )
