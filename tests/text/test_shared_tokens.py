"""The routed scorer reads a post's tokens once; the short cuts must not change any score."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from worker.text import clean, detect_language, english, french, score_text
from worker.text.engine import valence
from worker.text.lexicons import emoji_valences
from worker.text.preprocess import tokens

# Words that exercise the rules: elisions (both apostrophes), negation, boosters, capitals,
# elongations, phrases, emoji and emoticons, in both languages.
PIECES = [
    "j'adore",
    "j’adore",
    "n'est",
    "n’est",
    "pas",
    "ne",
    "que",
    "très",
    "TRÈS",
    "nul",
    "NUL",
    "nuuuul",
    "merci",
    "pour",
    "rien",
    "encore",
    "mais",
    "génial",
    "don't",
    "don’t",
    "like",
    "I",
    "love",
    "LOVE",
    "sooooo",
    "bad",
    "not",
    "but",
    "great",
    "again",
    "😡",
    "😍",
    "🙄",
    ":)",
    ":D",
    "!!!",
    "??",
    "000",
    "Acme",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=12))
@example(["C’est", "NUL", "mais", "j’adore", "😍"])
@example(["l’équipe", "est", "géniaaaale"])
def test_scoring_from_shared_tokens_equals_scoring_from_text(parts: list[str]) -> None:
    text = clean(" ".join(parts))
    emoji = emoji_valences()
    for pack in (english.pack(), french.pack()):
        assert valence(pack, text, emoji, tokens(text)) == valence(pack, text, emoji), pack.code


def test_cleaning_short_cuts_still_drop_every_url_and_handle() -> None:
    text = "Voir HTTPS://T.CO/AbC et WWW.ACME.FR ou www.acme.fr, @acme_fr #PanneAcme"
    assert clean(text) == "Voir et ou Panne Acme"
    assert clean("Voir WWW.ACME.FR demain") == "Voir demain"
    assert clean("no link here: just words") == "no link here: just words"


def test_the_shortest_elongation_still_emphasises() -> None:
    # Three letters in a row is the least the text-wide first look must let through.
    plain, long = score_text("C'est nul", "fr").polarity, score_text("C'est nuuul", "fr").polarity
    assert plain < 0 and long < plain
    assert score_text("gooood", "en").polarity > score_text("good", "en").polarity


def test_language_detection_counts_french_elisions_with_either_apostrophe() -> None:
    # No French function word of the list here: only the elisions and the accents tell.
    assert detect_language("L’équipe d’Acme s’excuse") == "fr"
    assert detect_language("L'equipe d'Acme s'excuse") == "fr"
    assert detect_language("😡 🙄 :)") == "unknown"
