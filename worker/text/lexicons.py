"""The word lists behind the analyzers, loaded once from installed packages and shipped files.

Sources and licences (nothing is downloaded at run time):

- VADER's lexicon and emoji descriptions, from the `vaderSentiment` package (MIT licence).
- textblob-fr's adjective lexicon `fr-sentiment.xml`, from the `textblob-fr` package (the file
  declares PDDL, public domain; the package is MIT).
- `data/emoji.txt`, `data/en_social.txt`, `data/fr_social.txt`: written for tocsin (Apache-2.0).

All valences are in VADER's units, -4 (most negative) to +4 (most positive).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from xml.etree import ElementTree

from worker.text.preprocess import strip_accents

DATA = Path(__file__).with_name("data")

#: textblob-fr polarities are in [-1, 1]; this maps them onto VADER's scale, where a plain
#: "good" is 1.9 and "great" 3.1 (textblob-fr's "bon" is 0.7, "génial" 0.9).
TEXTBLOB_FR_SCALE = 3.0


def _package_file(package: str, name: str) -> Path:
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:  # pragma: no cover - a broken install
        raise RuntimeError(f"the {package} package is not installed")
    return Path(spec.origin).with_name(name)


def words(text: str) -> list[str]:
    """A word list written as one string ("très trop vraiment")."""
    return text.split()


def read_table(path: Path) -> dict[str, float]:
    """A shipped 'term<TAB>valence' file; '#' starts a comment line."""
    table: dict[str, float] = {}
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        term, _, value = line.partition("\t")
        try:
            table[term.strip().lower()] = float(value.split()[0])
        except (ValueError, IndexError) as exc:
            raise ValueError(f"{path.name}:{no}: expected 'term<TAB>valence'") from exc
    return table


@lru_cache(maxsize=1)
def vader_lexicon() -> dict[str, float]:
    """VADER's 7,500 words and emoticons with their mean human rating."""
    lexicon: dict[str, float] = {}
    path = _package_file("vaderSentiment.vaderSentiment", "vader_lexicon.txt")
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) >= 2:
            lexicon.setdefault(parts[0], float(parts[1]))
    return lexicon


@lru_cache(maxsize=1)
def textblob_fr_lexicon() -> dict[str, float]:
    """textblob-fr's French adjectives, polarity averaged over senses, on VADER's scale."""
    path = _package_file("textblob_fr", "fr-sentiment.xml")
    sums: dict[str, list[float]] = {}
    for word in ElementTree.parse(path).getroot().iter("word"):  # noqa: S314 - packaged file
        form = (word.get("form") or "").lower()
        polarity = word.get("polarity")
        if form and polarity is not None:
            sums.setdefault(form, []).append(float(polarity))
    out = {form: round(TEXTBLOB_FR_SCALE * sum(vs) / len(vs), 3) for form, vs in sums.items()}
    # textblob-fr rates many plain descriptive adjectives faintly ("arrivé" 0.1, "grand" 0.2):
    # read as sentiment they turn neutral news into praise. Only words that carry at least a
    # third of a plain "bon" (0.7) are kept.
    return {form: v for form, v in out.items() if abs(v) > TEXTBLOB_FR_SCALE * 0.2}


_DESCRIPTION_WORD = re.compile(r"[a-z]+")


@lru_cache(maxsize=1)
def emoji_valences() -> dict[str, float]:
    """Emoji (one code point) → valence: tocsin's own table, else VADER's description words.

    VADER reads an emoji as its Unicode description ("loudly crying face"); the description's
    strongest lexicon word is a fair valence for emoji that the hand-written table leaves out.
    """
    lexicon = vader_lexicon()
    table: dict[str, float] = {}
    path = _package_file("vaderSentiment.vaderSentiment", "emoji_utf8_lexicon.txt")
    for line in path.read_text(encoding="utf-8").splitlines():
        emoji, _, description = line.partition("\t")
        if len(emoji) != 1:
            continue
        scores = [lexicon[w] for w in _DESCRIPTION_WORD.findall(description) if w in lexicon]
        if scores:
            table[emoji] = max(scores, key=abs)
    table.update(read_table(DATA / "emoji.txt"))
    return table


def with_unaccented(lexicon: dict[str, float]) -> dict[str, float]:
    """The lexicon plus accent-free spellings ('decu' for 'déçu') that do not collide."""
    extra: dict[str, float] = {}
    for word, value in lexicon.items():
        plain = strip_accents(word)
        if plain != word and plain not in lexicon:
            extra.setdefault(plain, value)
    return {**extra, **lexicon}
