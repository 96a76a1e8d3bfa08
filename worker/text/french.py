"""The French language pack: vaderSentiment-fr's lexicon, tocsin's social lexicon, French rules.

The base lexicon is vaderSentiment-fr's French VADER lexicon (9,000 words, shipped as data, see
`lexicons.vader_fr_lexicon`), less the words it rates through an English sense French does not
carry (intensifiers, function words); tocsin's hand-written `data/fr_social.txt` is read over it.
What lexicons miss on French social posts, and how this pack handles it:

- negation "ne … pas / jamais / plus / rien": "pas", "jamais", "rien", "aucun", "sans" negate the
  words that follow them; the particle "ne"/"n'" negates the verb after it ("je n'aime pas"),
  unless a "que" follows ("je n'aime que ça" means "only"); "plus" boosts unless "ne" is in scope;
- intensifiers "très, trop, vraiment, super, hyper, grave…" (boosters), and dampeners ("un peu");
- elongations ("nuuuul"), words in capitals, "!!!" and emoji: the engine's emphasis rules;
- slang, complaint and crisis words, and irony phrases ("merci pour rien", "on croit rêver"):
  `data/fr_social.txt`, written for tocsin; praise next to a complaint with an irony marker
  ("Merci Acme, encore en panne 🙄") is read as sarcasm by the engine;
- posts written without accents ("decu", "tres"): every word also has its accent-free spelling.
"""

from __future__ import annotations

import re
from functools import lru_cache

from worker.text.engine import B_INCR, LanguagePack, build_phrases
from worker.text.lexicons import (
    DATA,
    read_table,
    vader_fr_lexicon,
    vader_fr_no_negate,
    vader_lexicon,
    with_unaccented,
    words,
)
from worker.text.preprocess import TOKEN

_ELISION = re.compile(r"['’]")

BOOSTERS = {
    **dict.fromkeys(
        words(
            "très trop vraiment tellement hyper ultra super méga archi complètement totalement "
            "absolument carrément vachement extrêmement franchement énormément particulièrement "
            "grave bien plus si sacrément"
        ),
        B_INCR,
    ),
    **dict.fromkeys(words("peu moyennement légèrement plutôt presque assez"), -B_INCR),
}
NEGATORS = frozenset(words("pas jamais rien aucun aucune sans ni guère nullement"))
PRAISE = frozenset(
    words(
        "merci bravo génial géniale super top parfait parfaite félicitations chapeau formidable "
        "excellent excellente magnifique adore aime génialissime"
    )
)
IRONY_MARKERS = frozenset(words("encore toujours décidément hab habitude ironie 🙄 😒 🙃 🤡"))


def split_elisions(toks: list[str]) -> list[str]:
    """Elisions split ("n'est" → "n", "est"; "j'adore" → "j", "adore")."""
    out: list[str] = []
    for tok in toks:
        if "'" in tok or "’" in tok:
            out.extend(p for p in _ELISION.split(tok) if p)
        else:
            out.append(tok)
    return out


def tokenize(text: str) -> list[str]:
    """Words with elisions split ("n'est" → "n", "est"; "j'adore" → "j", "adore")."""
    return split_elisions(TOKEN.findall(text))


#: Words whose accent-free spelling is another, commoner word: "sûr"/"sur", "mûr"/"mur",
#: "jeûne"/"jeune", "dû"/"du", "là"/"la", "où"/"ou", "à"/"a", "tâche"/"tache", "pêche"/"peche".
HOMOGRAPHS = frozenset(words("sur mur jeune du la ou a tache peche pecher cote foret mais"))


def function_words() -> frozenset[str]:
    """French function words (the language detector's list): never sentiment by themselves."""
    lines = (DATA / "stop_fr.txt").read_text(encoding="utf-8").splitlines()
    return frozenset(w.strip() for w in lines if w.strip() and not w.startswith("#"))


#: Regular French inflection: (ending of a lexicon word, what replaces it in each other form),
#: the first ending that fits applies. Adjectives and participles agree in gender and number
#: ("menacé" → "menacées", "mort" → "mortes"); first-group verbs conjugate on their stem
#: ("refuser" → "refusent", "refusait"); a word ending in -s or -x is left as it is.
_INFLECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("er", ("e", "es", "ent", "ons", "ez", "é", "ée", "és", "ées", "ait", "aient", "ant")),
    ("eux", ("euse", "euses")),
    ("if", ("ifs", "ive", "ives")),
    ("el", ("els", "elle", "elles")),
    ("é", ("ée", "és", "ées")),
    ("e", ("es",)),
    ("s", ()),
    ("x", ()),
    ("", ("s", "e", "es")),
)


def inflected(lexicon: dict[str, float], reserved: frozenset[str]) -> dict[str, float]:
    """The lexicon plus the regular inflections of its words that it does not list itself.

    vaderSentiment-fr lists some forms of a word and not others ("menacé" but not "menacés",
    "refuser" but not "refusent"); the forms it lists keep their own rating. Words shorter than
    four letters, phrases and `reserved` words are left alone: "plu" must not make "plus".
    """
    extra: dict[str, float] = {}
    for word, value in lexicon.items():
        if len(word) < 4 or not word.isalpha() or not value:
            continue
        for ending, forms in _INFLECTIONS:
            if word.endswith(ending):
                stem = word[: len(word) - len(ending)]
                for form in forms:
                    other = stem + form
                    if other not in lexicon and other not in reserved:
                        extra.setdefault(other, value)
                break
    return {**extra, **lexicon}


@lru_cache(maxsize=2)
def pack(social: bool = True) -> LanguagePack:
    """The French pack. `social=False` leaves out tocsin's hand-written `fr_social.txt` (the
    sentiment bench measures what that list adds on the split it was reviewed on and on one it
    was not)."""
    boosters = with_unaccented(BOOSTERS)
    function = function_words()
    # vaderSentiment-fr first, minus what it rates by translating an English sense that French
    # does not carry: intensifiers ("vraiment" is "really" rated as "real") and function words;
    # then tocsin's hand-written social lexicon, which wins where both rate a word.
    table = {w: v for w, v in vader_fr_lexicon().items() if w not in boosters and w not in function}
    if social:
        table.update(read_table(DATA / "fr_social.txt"))
    lexicon, phrases = build_phrases(table, tokenize)
    # Emoticons (":)", ":-(", "<3") read the same in any language.
    lexicon.update({k: v for k, v in vader_lexicon().items() if not k.isalpha()})
    return LanguagePack(
        code="fr",
        words=with_unaccented(
            inflected(lexicon, function | HOMOGRAPHS), reserved=function | HOMOGRAPHS
        ),
        phrases=phrases,
        boosters=boosters,
        negators=frozenset(with_unaccented(dict.fromkeys(NEGATORS, 0.0))),
        contrast=frozenset(words("mais cependant pourtant néanmoins toutefois sauf")),
        praise=frozenset(with_unaccented(dict.fromkeys(PRAISE, 0.0))),
        irony_markers=frozenset(with_unaccented(dict.fromkeys(IRONY_MARKERS, 0.0))),
        tokenize=tokenize,
        split=split_elisions,
        particles=frozenset({"ne", "n"}),
        particle_breakers=frozenset({"que", "qu"}),
        particle_negators=frozenset({"plus", "personne"}),
        unnegated=frozenset(with_unaccented(dict.fromkeys(vader_fr_no_negate(), 0.0))),
    )
