"""Language, sentiment and themes of mention text: offline, fast, English and French.

`score_text(text, lang="auto")` is the one function ingest and `tocsin score-text` share:

1. `detect_language`: function words of each language first (right on short posts, a few µs),
   py3langid (a well-kept, offline fork of langid.py) when they do not settle it, and "unknown"
   when neither has anything to go on (emoji only, a bare URL).
2. `preprocess.clean`: URLs, @handles and a leading "RT @x:" dropped, hashtags split into words
   ("#JeBoycotteAcme" → "Je Boycotte Acme").
3. The language's pack (`english.pack()`, `french.pack()`) run by the rules engine (`engine.py`):
   polarity in [-1, 1]; the label is neg/neu/pos at VADER's documented ±0.05.

Text in a language we do not analyse is scored with the English pack (emoji and emoticons still
read right) and reported as "unknown". Accuracy and throughput: `bench/sentiment_bench.py`,
docs/benchmarks.md.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from itertools import pairwise

from worker.model import NEG, NEU, POS, Scored
from worker.text import english, french
from worker.text.engine import valence
from worker.text.lexicons import DATA, emoji_valences
from worker.text.preprocess import (
    HANDLE,
    HASHTAG,
    RETWEET_PREFIX,
    URL,
    WORD,
    clean,
    split_hashtag,
    strip_accents,
    tokens,
)

__all__ = [
    "UNKNOWN",
    "clean",
    "detect_language",
    "near_duplicate_key",
    "score_text",
    "split_hashtag",
    "stop_words",
    "themes",
]

UNKNOWN = "unknown"
#: VADER's documented reading of its compound score, used for both languages.
LABEL_THRESHOLD = 0.05


def _word_list(name: str) -> frozenset[str]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return frozenset(w.strip() for w in lines if w.strip() and not w.startswith("#"))


@lru_cache(maxsize=1)
def _function_words() -> tuple[frozenset[str], frozenset[str]]:
    return _word_list("stop_en.txt"), _word_list("stop_fr.txt")


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    """English and French stop-words (with accent-free spellings), for themes."""
    en, fr = _function_words()
    words = en | fr | _word_list("stop_extra.txt")
    return words | {strip_accents(w) for w in words}


_FR_LETTERS = re.compile(r"[éèêàùçœâîôû]", re.IGNORECASE)
#: What comes before the apostrophe of a French elision: "l'", "qu'", "jusqu'"...
_FR_ELIDED = frozenset({"l", "j", "d", "m", "t", "s", "n", "c", "qu", "jusqu", "lorsqu", "puisqu"})


def _detect(cleaned: str, low: list[str] | None = None) -> str:
    """Language of a cleaned text from its lower-cased tokens (`preprocess.tokens`)."""
    if low is None:
        low = tokens(cleaned)[1]
    en_words, fr_words = _function_words()
    fr = sum(map(fr_words.__contains__, low))
    en = sum(map(en_words.__contains__, low))
    if "'" in cleaned or "’" in cleaned:
        fr += sum(1 for w in low if "'" in w and w.partition("'")[0] in _FR_ELIDED)
    if not fr and not en and not any(w[0].isalpha() for w in low):
        return UNKNOWN  # emoji and emoticons only: nothing says which language
    if _FR_LETTERS.search(cleaned):
        fr += 1
    if fr >= 2 and fr > 2 * en:
        return "fr"
    if en >= 2 and en > 2 * fr:
        return "en"
    import py3langid

    lang, _ = py3langid.classify(cleaned)
    if lang in ("en", "fr"):
        return str(lang)
    if fr > en:
        return "fr"
    if en > fr:
        return "en"
    return UNKNOWN


def detect_language(text: str) -> str:
    """'en', 'fr' or 'unknown' for one post, however short and messy."""
    return _detect(clean(text))


def _label(polarity: float) -> str:
    if polarity >= LABEL_THRESHOLD:
        return POS
    if polarity <= -LABEL_THRESHOLD:
        return NEG
    return NEU


def score_text(text: str, lang: str = "auto") -> Scored:
    """Language and sentiment of one text. `lang` forces 'en' or 'fr'; 'auto' detects it."""
    cleaned = clean(text)
    toks = tokens(cleaned)  # read once, by language detection and by the language's pack
    detected = _detect(cleaned, toks[1]) if lang == "auto" else lang
    pack = french.pack() if detected == "fr" else english.pack()
    polarity, _ = valence(pack, cleaned, emoji_valences(), toks)
    return Scored(
        detected if detected in ("en", "fr") else UNKNOWN, round(polarity, 4), _label(polarity)
    )


def near_duplicate_key(text: str) -> str:
    """The same key for identical or near-identical texts (retweets, copy-paste storms).

    A retweet prefix, URLs, @handles, case, accents, punctuation, digits and emoji do not count:
    "RT @a: Acme a menti !!! https://t.co/1" and "acme a menti @b https://t.co/2" share a key.
    """
    text = RETWEET_PREFIX.sub("", text)
    text = URL.sub(" ", text)
    text = HANDLE.sub(" ", text)
    words = WORD.findall(strip_accents(text.lower()))
    # A post with no words at all (emoji only) is its own text, not a duplicate of every other.
    return " ".join(words)[:64] or " ".join(text.split())[:64]


def _terms(text: str, stop: frozenset[str]) -> set[str]:
    """Hashtags (as written, lower-cased, with '#') and the words and two-word phrases of a text."""
    tags = {"#" + h.lower() for h in HASHTAG.findall(text)}
    body = HASHTAG.sub(" ", HANDLE.sub(" ", URL.sub(" ", text)))
    out: set[str] = set(tags)
    # Phrases do not run across punctuation: "panne. Merci" is not a phrase.
    for chunk in re.split(r"[.,;:!?()\[\]\"«»…]+", body):
        words = [w.lower() for w in WORD.findall(chunk)]
        keep = [(w if w not in stop and len(w) > 2 and not w.isdigit() else None) for w in words]
        out.update(w for w in keep if w)
        out.update(f"{a} {b}" for a, b in pairwise(keep) if a and b)
    return out


def themes(
    window_texts: Sequence[str], baseline_texts: Sequence[str], *, top: int = 8
) -> list[tuple[str, float]]:
    """What a spike is about: hashtags, words and phrases whose share rose most (lift).

    Near-duplicates (retweets, copy-paste storms) count once on each side. A term needs at least
    two distinct posts in the window; lift is its share of window posts over its (add-one smoothed)
    share of baseline posts, and only terms that rose (lift > 1) are listed. A phrase replaces its
    words when it is at least as frequent, so "service client" is listed instead of "service" and
    "client".
    """
    stop = stop_words()

    def counts(texts: Sequence[str]) -> tuple[Counter[str], int]:
        distinct: dict[str, str] = {}
        for t in texts:
            distinct.setdefault(near_duplicate_key(t) or t, t)
        c: Counter[str] = Counter()
        for t in distinct.values():
            c.update(_terms(t, stop))
        return c, len(distinct)

    win, n_win = counts(window_texts)
    base, n_base = counts(baseline_texts)
    lifts: dict[str, float] = {}
    for term, k in win.items():
        if k < 2:
            continue
        lift = (k / max(1, n_win)) / ((base.get(term, 0) + 1) / (n_base + 1))
        if lift > 1:  # only what rose: the ever-present brand name is not a theme
            lifts[term] = lift
    for term in [t for t in lifts if " " in t]:
        for part in term.split():
            if part in lifts and win[part] <= win[term]:
                del lifts[part]
    ranked = sorted(lifts.items(), key=lambda x: (-x[1], -win[x[0]], x[0]))
    return [(t, round(v, 2)) for t, v in ranked[:top]]
