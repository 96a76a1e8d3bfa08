"""What the analyzers read: URLs and @handles dropped, hashtags split into words, tokens.

Everything here is plain string work with precompiled regular expressions, because it runs once
per mention on the ingest path (see `bench/sentiment_bench.py` for the throughput budget).
"""

from __future__ import annotations

import html
import re
import unicodedata

URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
HANDLE = re.compile(r"@\w+")
HASHTAG = re.compile(r"#(\w+)")
RETWEET_PREFIX = re.compile(r"^\s*(?:rt|mt)\s+@\w+:?\s*", re.IGNORECASE)
#: A character written as a JSON/Python escape ("don\\u2019t"), or an emoji as two surrogates.
UNICODE_ESCAPE = re.compile(
    r"\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})|\\u([0-9a-fA-F]{4})"
)

# Hashtag segmentation: a capital starts a word ("JeBoycotteAcme"), a run of capitals is an acronym
# unless it ends a word's first letter ("SNCFenGreve" keeps "SNCF"), digits stand alone.
_CAMEL = re.compile(r"[A-ZÀ-ÖØ-Þ]?[a-zß-öø-ÿœ]+|[A-ZÀ-ÖØ-Þ]+(?=[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿœ]|\b|\d)|\d+")

#: Word tokens: letters with inner apostrophes or hyphens ("don't", "aujourd'hui", "rip-off").
WORD = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")

#: The tokens the sentiment engine reads: words, the classic emoticons, and single emoji code points.
#: Emoji and emoticons are looked up in `lexicons.emoji_valences()`; anything else is a word.
TOKEN = re.compile(
    r"[^\W\d_]+(?:['’\-][^\W\d_]+)*"
    r"|(?:[:;=8xX][\-o^']?[()\[\]dDpP/\\|*3$@]+)(?![\w])"
    r"|(?:[)(\]\[dD][\-o^']?[:;=8])(?![\w])"
    r"|<3+|</3"
    r"|[\u2190-\u21ff\u2300-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff]"
)


def tokens(cleaned: str) -> tuple[list[str], list[str]]:
    """The tokens of a cleaned text, as written and lower-cased, typographic apostrophes made
    straight: read once per post by language detection and by the language's pack."""
    if "’" in cleaned:
        cleaned = cleaned.replace("’", "'")
    toks = TOKEN.findall(cleaned)
    return toks, [t.lower() for t in toks]


#: Three or more of the same letter: "nuuuul", "sooooo".
ELONGATED = re.compile(r"([^\W\d_])\1{2,}")
#: A cheap first look for `ELONGATED` over a whole text (it also finds "000", which the word
#: check then turns down).
MAYBE_ELONGATED = re.compile(r"(\w)\1\1")


def split_hashtag(tag: str) -> str:
    """'#JeBoycotteAcme' → 'Je Boycotte Acme'; 'lumio_fire' → 'lumio fire'; 'fail' → 'fail'."""
    tag = tag.lstrip("#").replace("_", " ")
    parts = [p for chunk in tag.split() for p in (_CAMEL.findall(chunk) or [chunk])]
    return " ".join(parts) if parts else tag


def _hashtag_words(m: re.Match[str]) -> str:
    return " " + split_hashtag(m.group(1)) + " "


def _unescape(m: re.Match[str]) -> str:
    high, low, one = m.groups()
    if one is not None:
        code = int(one, 16)
        return m.group(0) if 0xD800 <= code <= 0xDFFF else chr(code)  # a lone surrogate stays
    return chr(0x10000 + ((int(high, 16) - 0xD800) << 10) + (int(low, 16) - 0xDC00))


def clean(text: str) -> str:
    """Decode HTML entities and escaped characters ("\\u2019"), drop URLs, @handles and a leading
    'RT @x:', turn hashtags into words, squeeze spaces."""
    # Each pattern runs only when the text has the character it needs: most posts have no URL,
    # handle or hashtag, and the regular expressions are most of what cleaning costs.
    if "&" in text:
        text = html.unescape(text)  # posts from APIs often carry "&amp;", "&gt;" as written
    if "\\u" in text:
        # Text that went through JSON twice keeps its escapes as written: "don\\u2019t" is
        # "don't" (a negation), "\\u002c" a comma (a clause break), not the word "u".
        text = UNICODE_ESCAPE.sub(_unescape, text)
    text = RETWEET_PREFIX.sub("", text)
    if "://" in text or "www." in text or "WWW." in text:
        text = URL.sub(" ", text)
    if "@" in text:
        text = HANDLE.sub(" ", text)
    if "#" in text:
        text = HASHTAG.sub(_hashtag_words, text)
    return " ".join(text.split())


def strip_accents(s: str) -> str:
    """'déçu' → 'decu': French posts often drop accents, lexicons keep them."""
    if s.isascii():
        return s
    return "".join(c for c in unicodedata.normalize("NFD", s) if unicodedata.category(c) != "Mn")


def squeeze_elongation(word: str) -> tuple[str, str]:
    """Two candidate spellings of an elongated word: runs cut to one letter and to two.

    'nuuuul' → ('nul', 'nuul'); 'coooool' → ('col', 'cool'). The caller tries both in its lexicon.
    """
    return ELONGATED.sub(r"\1", word), ELONGATED.sub(r"\1\1", word)
