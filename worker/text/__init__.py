"""Language, sentiment and themes of mention text: offline, fast, English and French.

`score_text(text, lang="auto")` is the one function ingest and `tocsin score-text` share.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import lru_cache
from typing import Any

from worker.model import NEG, NEU, POS, Scored

_URL = re.compile(r"https?://\S+|www\.\S+")
_HANDLE = re.compile(r"@\w+")
_HASHTAG = re.compile(r"#(\w+)")
_WORD = re.compile(r"[^\W\d_][\w'’-]*", re.UNICODE)
_CAMEL = re.compile(r"[A-Z]?[a-zà-ÿ]+|[A-Z]+(?=[A-Z][a-z]|\b)|\d+")

_FR_WORDS = frozenset(
    [
        "le",
        "la",
        "les",
        "un",
        "une",
        "des",
        "du",
        "de",
        "et",
        "est",
        "pas",
        "ne",
        "je",
        "tu",
        "il",
        "elle",
        "nous",
        "vous",
        "ils",
        "elles",
        "mon",
        "ma",
        "mes",
        "ton",
        "ta",
        "son",
        "sa",
        "ses",
        "ce",
        "cette",
        "ces",
        "qui",
        "que",
        "quoi",
        "avec",
        "pour",
        "sur",
        "dans",
        "par",
        "plus",
        "très",
        "c'est",
        "j'ai",
        "n'est",
        "au",
        "aux",
        "mais",
        "ou",
        "donc",
        "car",
        "encore",
        "jamais",
        "rien",
        "tout",
        "tous",
        "toute",
        "merci",
        "bonjour",
        "vraiment",
        "trop",
        "être",
        "avoir",
        "fait",
        "été",
        "sont",
        "suis",
        "es",
        "sommes",
        "êtes",
        "ont",
        "avez",
        "avons",
    ]
)
_EN_WORDS = frozenset(
    [
        "the",
        "a",
        "an",
        "and",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "not",
        "no",
        "i",
        "you",
        "he",
        "she",
        "we",
        "they",
        "my",
        "your",
        "his",
        "her",
        "our",
        "their",
        "this",
        "that",
        "these",
        "those",
        "with",
        "for",
        "on",
        "in",
        "at",
        "by",
        "of",
        "to",
        "from",
        "it",
        "it's",
        "i'm",
        "don't",
        "can't",
        "is",
        "isn't",
        "but",
        "or",
        "so",
        "very",
        "just",
        "what",
        "who",
        "how",
        "why",
        "when",
        "all",
        "any",
        "thanks",
        "hello",
        "really",
        "too",
        "have",
        "has",
        "had",
        "do",
        "does",
        "did",
        "will",
        "would",
        "should",
        "could",
        "am",
    ]
)

UNKNOWN = "unknown"


def split_hashtag(tag: str) -> str:
    """'JeBoycotteAcme' → 'Je Boycotte Acme'; 'lumio_fire' → 'lumio fire'."""
    tag = tag.replace("_", " ")
    parts = _CAMEL.findall(tag)
    return " ".join(parts) if parts else tag


def clean(text: str) -> str:
    """Drop URLs and @handles, turn hashtags into words: what the analyzers should read."""
    text = _URL.sub(" ", text)
    text = _HANDLE.sub(" ", text)
    text = _HASHTAG.sub(lambda m: " " + split_hashtag(m.group(1)) + " ", text)
    return " ".join(text.split())


def _strip_accents(s: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", s) if unicodedata.category(c) != "Mn")


@lru_cache(maxsize=65536)
def detect_language(text: str) -> str:
    """'en', 'fr' or 'unknown'. Function words first (fast, right on short posts), then py3langid."""
    words = [w.lower() for w in _WORD.findall(clean(text))]
    if not words:
        return UNKNOWN
    fr = sum(w in _FR_WORDS for w in words)
    en = sum(w in _EN_WORDS for w in words)
    if fr >= 2 and fr > 2 * en:
        return "fr"
    if en >= 2 and en > 2 * fr:
        return "en"
    import py3langid

    lang, _ = py3langid.classify(clean(text))
    if lang in ("en", "fr"):
        return lang
    if fr > en:
        return "fr"
    if en > fr:
        return "en"
    return UNKNOWN


@lru_cache(maxsize=1)
def _vader() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


@lru_cache(maxsize=1)
def _french() -> Any:
    from textblob_fr import PatternAnalyzer

    return PatternAnalyzer()


_FR_NEGATION = re.compile(r"\b(ne|n['’])\b|\b(pas|jamais|plus|rien|aucun|aucune)\b", re.IGNORECASE)
_FR_IRONY = re.compile(r"merci pour rien|bravo pour|quelle blague|génial\.\.\.", re.IGNORECASE)


def _label(polarity: float, threshold: float = 0.05) -> str:
    if polarity >= threshold:
        return POS
    if polarity <= -threshold:
        return NEG
    return NEU


def score_text(text: str, lang: str = "auto") -> Scored:
    """Language and sentiment of one text. `lang` forces 'en' or 'fr'; 'auto' detects it."""
    detected = detect_language(text) if lang == "auto" else lang
    cleaned = clean(text)
    if detected == "fr":
        polarity, _subjectivity = _french().analyze(cleaned)
        if _FR_IRONY.search(cleaned):
            polarity = -max(0.3, abs(polarity))
        polarity = max(-1.0, min(1.0, float(polarity)))
        return Scored("fr", round(polarity, 4), _label(polarity, 0.1))
    polarity = float(_vader().polarity_scores(cleaned)["compound"])
    return Scored(
        detected if detected in ("en",) else UNKNOWN if lang == "auto" else detected,
        round(polarity, 4),
        _label(polarity),
    )


def near_duplicate_key(text: str) -> str:
    """The same key for identical or near-identical texts (retweets, copy-paste storms)."""
    text = re.sub(r"^(rt|mt)\s+@\w+:?\s*", "", text.strip(), flags=re.IGNORECASE)
    text = _URL.sub("", text)
    words = _WORD.findall(_strip_accents(text.lower()))
    return " ".join(words)[:64]


_STOP = _FR_WORDS | _EN_WORDS


def themes(
    window_texts: list[str], baseline_texts: list[str], *, top: int = 8
) -> list[tuple[str, float]]:
    """Hashtags and words whose share rose most in the window against the baseline (lift)."""

    def terms(texts: list[str]) -> Counter[str]:
        c: Counter[str] = Counter()
        for t in set(texts):  # near-duplicates counted once per distinct text
            tags = {"#" + h.lower() for h in _HASHTAG.findall(t)}
            words = {
                w.lower()
                for w in _WORD.findall(_HASHTAG.sub(" ", _URL.sub(" ", t)))
                if len(w) > 3 and w.lower() not in _STOP
            }
            c.update(tags | words)
        return c

    win, base = terms(window_texts), terms(baseline_texts)
    n_win, n_base = max(1, len(set(window_texts))), max(1, len(set(baseline_texts)))
    scored = []
    for term, k in win.items():
        if k < 2:
            continue
        lift = (k / n_win) / ((base.get(term, 0) + 1) / (n_base + 1))
        scored.append((term, round(lift, 2)))
    scored.sort(key=lambda x: (-x[1], x[0]))
    return scored[:top]
