"""One lexicon-and-rules sentiment engine; each language brings its own `LanguagePack`.

The engine follows VADER's published rules (Hutto & Gilbert, ICWSM 2014), re-implemented over a
plain dict so that one text costs a few microseconds instead of VADER's ~50: calling
`SentimentIntensityAnalyzer` per mention would not leave room for language detection inside the
10,000 texts/s budget (see docs/benchmarks.md).

For one cleaned text:

1. Tokens: words, emoticons and emoji (`preprocess.TOKEN`); the pack may split elisions.
2. Phrases ("merci pour rien", "thanks for nothing") are matched first and read as one valence.
3. Each lexicon word gets its valence; a word in CAPS among lower-case words, or an elongated one
   ("nuuuul"), is pushed further from zero; booster words up to three tokens before it scale it
   (VADER's 0.293, decaying 5 % a step); a negation in scope flips and damps it (× -0.74), and
   so does "least" just before it ("the least helpful", but not "at least").
   A positive word written Capitalized beside another Capitalized word, not first in a sentence
   and in a text not written in Title Case, is part of a name ("Best Buy", "Manchester
   United"): no praise.
4. Irony: praise ("merci", "great") in a text that also complains and carries an irony marker
   ("encore", "again", 🙄) is read as sarcasm, so the praise counts as blame.
5. A negation that negates no sentiment word ("ils ne répondent pas", "they never called back")
   counts as a mildly negative word: negation is itself a mark of complaint (Potts 2010).
6. Negativity bias: negative valences count 1.5 times (SO-CAL's weighting, Taboada et al. 2011),
   because positive words turn up in negative posts far more than the reverse.
7. Contrast: words before the last "but"/"mais" count half, words after it 1.5 times.
8. The sum is pushed away from zero by "!" (up to four) and by "??", then squashed into
   [-1, 1] with VADER's normalisation x / sqrt(x² + 15).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from worker.text.preprocess import ELONGATED, MAYBE_ELONGATED, TOKEN, squeeze_elongation

B_INCR = 0.293  # VADER: mean rating increase of a booster word
CAPS_INCR = 0.733  # VADER: mean rating increase of a word in capitals
ELONGATION_INCR = 0.293  # tocsin: an elongated word is emphasised like a booster would
N_SCALAR = -0.74  # VADER: a negated word flips and loses a quarter of its strength
ALPHA = 15.0  # VADER's normalisation constant
#: A negation with no sentiment word in its scope ("ils ne répondent pas") reads as a mildly
#: negative word, as strong as a negated one is damped (VADER's N_SCALAR).
NEGATION_VALENCE = N_SCALAR
NEGATIVE_WEIGHT = 1.5  # SO-CAL (Taboada et al., Computational Linguistics 37(2), 2011)


@dataclass(frozen=True)
class LanguagePack:
    """What the engine needs to know about one language."""

    code: str
    words: dict[str, float]
    #: first token → ((following tokens, valence), ...), longest phrase first.
    phrases: dict[str, tuple[tuple[tuple[str, ...], float], ...]]
    boosters: dict[str, float]
    negators: frozenset[str]
    contrast: frozenset[str]
    praise: frozenset[str]
    irony_markers: frozenset[str]
    tokenize: Callable[[str], list[str]]
    #: Negation by a particle before the word (French "ne"/"n'"), cancelled by "que" after it.
    particles: frozenset[str] = frozenset()
    particle_breakers: frozenset[str] = frozenset()
    #: Words that count only after one of the given tokens ("like" after "I", "we", "don't"...).
    needs_before: dict[str, frozenset[str]] = field(default_factory=dict)
    #: Words that negate only when a particle is also in scope ("ne ... plus").
    particle_negators: frozenset[str] = frozenset()
    #: Words a negation does not flip: "pas sérieux" is as much a complaint as "sérieux".
    unnegated: frozenset[str] = frozenset()
    #: Words that flip the word right after them as a negation does ("the least helpful"); a
    #: phrase that holds them ("at least") reads them as part of itself instead.
    least: frozenset[str] = frozenset()
    #: How the pack refines the shared tokens of `preprocess.tokens` into its own (French splits
    #: elisions); `tokenize(text)` must equal `split(tokens(text))` when both are given.
    split: Callable[[list[str]], list[str]] | None = None


def build_phrases(
    table: dict[str, float], tokenize: Callable[[str], list[str]]
) -> tuple[dict[str, float], dict[str, tuple[tuple[tuple[str, ...], float], ...]]]:
    """Split a 'term → valence' table into single words and token phrases."""
    words: dict[str, float] = {}
    grouped: dict[str, list[tuple[tuple[str, ...], float]]] = {}
    for term, value in table.items():
        toks = [t.lower() for t in tokenize(term)]
        if len(toks) == 1:
            words[toks[0]] = value
        elif toks:
            grouped.setdefault(toks[0], []).append((tuple(toks[1:]), value))
    phrases = {
        head: tuple(sorted(rest, key=lambda r: -len(r[0]))) for head, rest in grouped.items()
    }
    return words, phrases


def _negated(
    pack: LanguagePack,
    low: list[str],
    i: int,
    breaks: frozenset[int] = frozenset(),
    floor: int = 0,
) -> bool:
    """Is the word at `i` in the scope of a negation: one of the three tokens before it, in the
    same clause (`breaks`: the tokens a clause starts with, after ",", ".", "!"...), and not
    inside a phrase read before it (tokens before `floor`: "can't believe" negates nothing)."""
    negators = pack.negators
    particle = False
    start = i - 3 if i >= 3 else 0
    if start < floor:
        start = floor
    for k in range(i, start, -1):
        if k in breaks:
            start = k
            break
    for j in range(start, i):
        w = low[j]
        if w in negators or w.endswith("n't"):
            return True
        if w in pack.particles:
            particle = True
    if not particle:
        return False
    # "ne ... que" means "only", not "not".
    return not any(w in pack.particle_breakers for w in low[i + 1 : i + 4])


#: What ends a clause between two tokens; a negation's scope ends there (Pang, Lee and
#: Vaithyanathan 2002: "not" reaches up to the next punctuation mark).
_CLAUSE_END = frozenset(".,;:!?")


#: What ends a sentence: the word after it is capitalized by grammar, not because it is a name.
_SENTENCE_END = frozenset(".!?")


def _clause_starts(text: str, n: int, ends: frozenset[str] = _CLAUSE_END) -> frozenset[int]:
    """Indexes of the tokens that start a clause after the first: punctuation (`ends`) comes
    before them.

    Only for packs whose tokens are `preprocess.TOKEN`'s (no `split`); empty if they differ."""
    if "’" in text:
        text = text.replace("’", "'")
    starts: set[int] = set()
    prev_end = -1
    k = -1
    for k, m in enumerate(TOKEN.finditer(text)):
        if prev_end >= 0 and not ends.isdisjoint(text[prev_end : m.start()]):
            starts.add(k)
        prev_end = m.end()
    return frozenset(starts) if k + 1 == n else frozenset()


def _capitalized(t: str) -> bool:
    return len(t) > 1 and t[0].isupper() and t[1:].islower()


def _in_name(toks: list[str], i: int) -> bool:
    """A lexicon word written Capitalized next to another Capitalized word, not first: a name."""
    if i == 0 or not _capitalized(toks[i]):
        return False
    prev_cap = _capitalized(toks[i - 1])
    next_cap = i + 1 < len(toks) and _capitalized(toks[i + 1])
    if not (prev_cap or next_cap):
        return False
    # A text in Title Case capitalizes for emphasis, not for names (the first word is not counted).
    caps = sum(1 for t in toks[1:] if _capitalized(t))
    return caps * 2 <= len(toks)


def valence(
    pack: LanguagePack,
    text: str,
    emoji: dict[str, float],
    tokens: tuple[list[str], list[str]] | None = None,
) -> tuple[float, int]:
    """(compound polarity in [-1, 1], number of sentiment-bearing tokens) of a cleaned text.

    `tokens` are the text's `preprocess.tokens` (as written, lower-cased) when the caller has
    them already (language detection reads them too); the pack refines them with `split`.
    """
    if tokens is None:
        toks = pack.tokenize(text)
        low = [t.lower() for t in toks]
    elif pack.split is None:
        toks, low = tokens
    elif "'" in text or "’" in text:
        toks, low = pack.split(tokens[0]), pack.split(tokens[1])
    else:
        toks, low = tokens  # nothing to split
    if not toks:
        return 0.0, 0
    n = len(low)
    words, boosters, phrases, negators = pack.words, pack.boosters, pack.phrases, pack.negators
    # Capitals emphasise a word only when the rest of the text is not shouting too (counted only
    # once a word in capitals is met: most posts have none).
    shouting_allowed: bool | None = None
    # Elongations ("nuuuul") are looked for word by word only when the text has one at all.
    elongated = MAYBE_ELONGATED.search(text) is not None
    pos: list[int] = []
    vals: list[float] = []
    praise_at: list[int] = []
    has_marker = not pack.irony_markers.isdisjoint(low)
    words_get, phrases_get, emoji_get, boosters_get = (
        words.get,
        phrases.get,
        emoji.get,
        boosters.get,
    )
    breaks: frozenset[int] | None = None  # clause starts, found when a word is first scored
    skip = 0  # a matched phrase's tokens are read as one
    in_phrases = 0  # tokens read as part of a phrase ("pas mal" is praise, not a negation)
    negated_any = False
    for i, w in enumerate(low):
        if i < skip:
            continue
        heads = phrases_get(w)
        if heads is not None:
            for rest, v in heads:
                k = len(rest)
                if tuple(low[i + 1 : i + 1 + k]) == rest:
                    if v:
                        pos.append(i)
                        vals.append(v)
                    skip = i + k + 1
                    in_phrases += sum(1 for t in low[i:skip] if t in negators or t.endswith("n't"))
                    break
            if skip > i:
                continue
        found: float | None = words_get(w)
        emphasis = 0.0
        if found is None:
            tok = toks[i]
            found = emoji_get(tok)
            if found is None and tok != w:
                found = words_get(tok)  # case-sensitive emoticons such as ":D"
            if found is None and elongated and ELONGATED.search(w):
                one, two = squeeze_elongation(w)
                found = words_get(two)
                if found is None:
                    found = words_get(one)
                emphasis = ELONGATION_INCR
            if found is None:
                continue
        v = found
        if not v:
            continue
        if v > 0 and _in_name(toks, i):
            # "Best Buy", "Manchester United": a name, not praise. Negative words are kept:
            # "Total Disaster At Acme" is Title Case for shouting, and missing it costs more.
            # A word that starts a sentence ("It came. Great Service!") is capitalized by
            # grammar, as the first word is (packs with `TOKEN`'s tokens only).
            if pack.split is not None or _SENTENCE_END.isdisjoint(text):
                continue
            if i not in _clause_starts(text, n, _SENTENCE_END):
                continue
        if w in boosters and i + 1 < n and low[i + 1] in words:
            continue  # "super bon": "super" boosts the next word instead of counting itself
        if w in negators and i + 1 < n and low[i + 1] in words:
            continue  # VADER: "no" before a lexicon word negates it instead of counting itself
        need = pack.needs_before.get(w)
        if need is not None and (i == 0 or low[i - 1] not in need):
            continue
        sign = 1.0 if v > 0 else -1.0
        tok = toks[i]
        if len(tok) > 1 and tok.isupper():
            if shouting_allowed is None:
                shouting = sum(1 for t in toks if len(t) > 1 and t.isupper())
                shouting_allowed = shouting < n
            if shouting_allowed:
                v += sign * CAPS_INCR
        v += sign * emphasis
        for d, scale in ((1, 1.0), (2, 0.95), (3, 0.9)):
            j = i - d
            if j < 0:
                break
            b = boosters_get(low[j])
            if b is not None:
                v += sign * b * scale
        negated = _negated(pack, low, i, floor=skip) and w not in pack.unnegated
        if negated and pack.split is None:
            # Only now, with a negation in reach, look for punctuation between the two.
            if breaks is None:
                breaks = frozenset() if _CLAUSE_END.isdisjoint(text) else _clause_starts(text, n)
            negated = not breaks or _negated(pack, low, i, breaks, skip)
        if negated:
            v *= N_SCALAR
            negated_any = True
        if i > skip and low[i - 1] in pack.least:
            v *= N_SCALAR  # VADER: "least" just before a word turns it around
        if w in pack.praise and v > 0:
            praise_at.append(len(vals))
        pos.append(i)
        vals.append(v)
    # A negation that negates no sentiment word still leans negative: people negate far more
    # when they complain (Potts, "On the negativity of negation", SALT 20, 2010).
    if not negated_any and (
        not negators.isdisjoint(low) or "n't" in text or "n’t" in text or "N'T" in text
    ):
        scored = set(pos)  # a negator that counted as a word ("no" alone) is not counted again
        negations = sum(
            1 for k, t in enumerate(low) if (t in negators or t.endswith("n't")) and k not in scored
        )
        if negations > in_phrases:
            pos.append(n)
            vals.append(NEGATION_VALENCE)
    if not vals:
        return 0.0, 0
    # Irony: praise + an irony marker + a complaint elsewhere = sarcasm ("Merci, encore en panne").
    if praise_at and has_marker:
        praise_set = set(praise_at)
        if any(v < 0 for k, v in enumerate(vals) if k not in praise_set):
            for k in praise_at:
                vals[k] = -abs(vals[k])
    # Negativity bias: people use positive words even when complaining ("good luck reaching
    # anyone"), so a lexicon reads texts as more positive than they are; SO-CAL weighs negative
    # expressions 1.5 times to offset it.
    vals = [v * NEGATIVE_WEIGHT if v < 0 else v for v in vals]
    total = 0.0
    if pack.contrast.intersection(low):
        last = max(k for k in range(n) if low[k] in pack.contrast)
        for p, v in zip(pos, vals, strict=True):
            total += v * (0.5 if p < last else 1.5)
    else:
        total = sum(vals)
    return _squash(total, text), len(vals)


def _squash(total: float, text: str) -> float:
    if total:
        bangs = text.count("!")
        emphasis = min(bangs, 4) * 0.292
        questions = text.count("?")
        if questions > 1:
            emphasis += questions * 0.18 if questions <= 3 else 0.96
        total += emphasis if total > 0 else -emphasis
    compound = total / math.sqrt(total * total + ALPHA)
    return max(-1.0, min(1.0, compound))
