"""The word lists behind the analyzers, loaded once from installed packages and shipped files.

Sources and licences (nothing is downloaded at run time):

- VADER's lexicon and emoji descriptions, from the `vaderSentiment` package (MIT licence).
- `data/vader_fr_lexicon.txt` and `data/vader_fr_no_negate.txt`: the French VADER lexicon of
  `vaderSentiment-fr` 1.3.4 (DEPREZ Olivier, EK Thomas; MIT licence, text in
  `data/NOTICE-vader-fr.txt`), shipped as data files, unchanged: the package itself is not a
  dependency (it pulls GPL code and edits `sys.path` on import).
- `data/emoji.txt`, `data/en_social.txt`, `data/fr_social.txt`: written for tocsin (Apache-2.0).

All valences are in VADER's units, -4 (most negative) to +4 (most positive).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from worker.text.preprocess import strip_accents

DATA = Path(__file__).with_name("data")


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
    """VADER's 7,500 words and emoticons with their mean human rating.

    A few terms are listed twice ("lol" 2.9 and 1.8); as in VADER's own loader, the last line
    wins, so that tocsin rates them as VADER does.
    """
    return {term: mean for term, (mean, _, _) in _vader_ratings().items()}


@lru_cache(maxsize=1)
def _vader_ratings() -> dict[str, tuple[float, float, tuple[int, ...]]]:
    """term → (mean, standard deviation, the raters' ratings), the last line of a term winning."""
    ratings: dict[str, tuple[float, float, tuple[int, ...]]] = {}
    path = _package_file("vaderSentiment.vaderSentiment", "vader_lexicon.txt")
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) >= 3:
            raw = parts[3].strip("[] ") if len(parts) > 3 else ""
            votes = tuple(int(x) for x in raw.split(",") if x.strip())
            ratings[parts[0]] = (float(parts[1]), float(parts[2]), votes)
    return ratings


#: How many of VADER's ten raters must give a word the sign of its mean rating for the word to
#: count as agreed on, however far a few dissenters pull its spread.
AGREEING_RATERS = 7


@lru_cache(maxsize=1)
def vader_disputed() -> frozenset[str]:
    """VADER words its ten raters disagreed on more than they agreed: standard deviation of the
    ratings above the absolute mean ("want" 0.3 ± 1.19, "god" 1.1 ± 1.51), unless at least
    `AGREEING_RATERS` of them gave the word the sign of its mean ("awful" -2.0 ± 2.05: nine
    raters gave -2 or -3 and one +4). Such a word is a faint or two-sided cue, and alone it
    labels a neutral post. Emoticons are kept."""
    return frozenset(
        term.lower()
        for term, (mean, spread, votes) in _vader_ratings().items()
        if term.isalpha()
        and spread > abs(mean)
        and sum(1 for v in votes if v * mean > 0) < AGREEING_RATERS
    )


#: A French word or phrase: letters, with inner hyphens, apostrophes or spaces.
_FR_TERM = re.compile(r"[^\W\d_]+(?:['’\- ][^\W\d_]+)*")


@lru_cache(maxsize=1)
def vader_fr_lexicon() -> dict[str, float]:
    """vaderSentiment-fr's 9,000 French words (VADER's lexicon translated by hand), lower-cased.

    The file is 'term->valence' a line; the few multi-word terms ("en colère") are kept as
    phrases by the caller. Where the file rates a term twice, the first rating is kept. Only
    words are kept: the file's emoticons are VADER's, which the French pack already reads, and
    some of them ("c:", "d:") would turn the elisions "c'" and "d'" into sentiment words.
    """
    lexicon: dict[str, float] = {}
    path = DATA / "vader_fr_lexicon.txt"
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        term, sep, value = line.rpartition("->")
        try:
            valence = float(value)
        except ValueError:
            valence = None
        if not sep or not term or valence is None:
            raise ValueError(f"{path.name}:{no}: expected 'term->valence'")
        term = term.strip().lower()
        if len(term) < 2 or not _FR_TERM.fullmatch(term):
            continue
        lexicon.setdefault(term, valence)
    return lexicon


@lru_cache(maxsize=1)
def vader_fr_no_negate() -> frozenset[str]:
    """Words vaderSentiment-fr never negates ("sérieux" in "pas sérieux" is the complaint)."""
    lines = (DATA / "vader_fr_no_negate.txt").read_text(encoding="utf-8").splitlines()
    return frozenset(w.strip().lower() for w in lines if w.strip())


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


def with_unaccented(
    lexicon: dict[str, float], reserved: frozenset[str] = frozenset()
) -> dict[str, float]:
    """The lexicon plus accent-free spellings ('decu' for 'déçu') that do not collide.

    A spelling in `reserved` is never added: without its accent "sûr" is "sur" (on), "mûr" is
    "mur" (wall), and those words are far more common than the accented ones.
    """
    extra: dict[str, float] = {}
    for word, value in lexicon.items():
        plain = strip_accents(word)
        if plain != word and plain not in lexicon and plain not in reserved:
            extra.setdefault(plain, value)
    return {**extra, **lexicon}
