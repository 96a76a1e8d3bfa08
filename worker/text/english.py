"""The English language pack: VADER's lexicon and rules, plus tocsin's social additions.

VADER (MIT) was built for social media and measures best of the lexicons on English tweets
(docs/benchmarks.md); tocsin reuses its lexicon, booster and negation lists, and adds the words and
phrases of customer complaints and crises it lacks (`data/en_social.txt`).
"""

from __future__ import annotations

import re
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

#: VADER words whose raters disagreed widely although most agreed on the sign (so
#: `vader_disputed` keeps them), but which have a common sense with no valence or the opposite
#: one (dictionary senses): "miss" the title, "charged" a phone, "blocks" of a city, "crushing
#: it", "lowered" prices, "laughably" bad, a "teaser" trailer. They stay out, as disputed words do.
TWO_SENSES = frozenset(
    words(
        "miss blocks charged played teaser teasers spark dynamite dynamitic lowered lows "
        "tolerance swearing exploit exposes grimalkin warmouths weakside degradable "
        "exhaustiveness resolvent honorarium joyrider joyrides joyriding joyrode supremacist "
        "laughably laughableness flatter flattery flatters opportunistically audacious "
        "libertinisms sentimentality sentimentalizing peacenik smarted immortal emptying "
        "vultures crushing wowser dominating excluded exclude"
    )
)


def tokenize(text: str) -> list[str]:
    """Words keep their apostrophes ("don't"), typographic ones made straight."""
    if "’" in text:
        text = text.replace("’", "'")
    return TOKEN.findall(text)


#: Occasions of the wishes "Happy Birthday", "Merry Christmas": written in Title Case by custom,
#: so the wish would otherwise read as a name ("Best Buy") and lose its warmth.
OCCASIONS = (
    *words(
        "birthday bday anniversary christmas xmas holidays holiday easter thanksgiving halloween "
        "hanukkah diwali eid weekend monday tuesday wednesday thursday friday saturday sunday"
    ),
    *("new year", "new years", "new year's", "valentine's day", "valentines day"),
    *("mother's day", "mothers day", "father's day", "fathers day"),
)


def wishes(lexicon: dict[str, float]) -> dict[str, float]:
    """'happy birthday', 'merry christmas', ... rated as the wishing word is."""
    return {f"{w} {o}": lexicon[w] for w in ("happy", "merry") for o in OCCASIONS}


#: An emoticon's eyes and its mouth (VADER's ":(" ":-)" "=]" ";)").
_EMOTICON = re.compile(r"([:;=])([\-']?)([()\[\]])")


def emoticon_variants(lexicon: dict[str, float]) -> dict[str, float]:
    """Spellings of VADER's emoticons that its lexicon lacks, rated as the listed one: the mouth
    repeated for emphasis (":((", ":)))"), and eyes written "=" instead of ":" ("=(")."""
    extra: dict[str, float] = {}
    for term, value in lexicon.items():
        m = _EMOTICON.fullmatch(term)
        if m is None:
            continue
        eyes, nose, mouth = m.groups()
        for e in (eyes, "=") if eyes == ":" else (eyes,):
            for k in range(1, 5):
                extra.setdefault(e + nose + mouth * k, value)
    return {t: v for t, v in extra.items() if t not in lexicon}


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
    table.update(wishes(vader_lexicon()))
    table.update(read_table(DATA / "en_social.txt"))
    single, phrases = build_phrases(table, tokenize)
    # VADER's words less those its raters disputed (`vader_disputed`) and those with a second
    # sense (`TWO_SENSES`); tocsin's own entries win.
    disputed = vader_disputed() | TWO_SENSES
    lexicon = {k.lower(): v for k, v in vader_lexicon().items() if k.lower() not in disputed}
    lexicon.update(vader_lexicon())  # case-sensitive emoticons (":D") stay reachable as written
    for word in disputed:
        lexicon.pop(word, None)
    lexicon.update(emoticon_variants(lexicon))
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
        least=frozenset({"least"}),
    )
