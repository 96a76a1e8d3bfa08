"""The shipped French lexicon (vaderSentiment-fr's, as data) and the rules that read it."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from worker.text import score_text
from worker.text.lexicons import DATA, vader_fr_lexicon, vader_fr_no_negate


def test_the_shipped_french_lexicon_loads_offline_from_the_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the lexicon tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    vader_fr_lexicon.cache_clear()
    lexicon = vader_fr_lexicon()
    assert len(lexicon) > 8000
    assert lexicon["désastre"] < -2 and lexicon["merveilleux"] > 1
    assert lexicon["en colère"] < 0  # phrases are kept, for the pack to match on tokens
    # Only words: no emoticon letters that would read the elision "c'" or "d'" as sentiment.
    assert all(len(term) > 1 and term[0].isalpha() for term in lexicon)
    assert "sérieux" in vader_fr_no_negate()
    notice = (DATA / "NOTICE-vader-fr.txt").read_text(encoding="utf-8")
    assert "vaderSentiment-fr 1.3.4" in notice and "MIT License" in notice
    assert Path(DATA, "vader_fr_lexicon.txt").is_file()


def test_inflection_keeps_listed_forms_and_leaves_short_and_reserved_words_alone() -> None:
    from worker.text.french import inflected

    lexicon = {"refuser": -1.2, "refusent": -2.0, "plu": 1.8, "cruel": -2.8, "menacé": -0.8}
    out = inflected(lexicon, reserved=frozenset({"cruels"}))
    assert out["refusent"] == -2.0  # listed: its own rating
    assert out["refusait"] == -1.2 and out["menacées"] == -0.8 and out["cruelle"] == -2.8
    assert "plus" not in out  # "plu" is too short to inflect
    assert "cruels" not in out  # reserved


def test_the_french_lexicon_does_not_need_the_vadersentiment_fr_package() -> None:
    # The package edits sys.path on import and pulls GPL code: it must never be imported.
    code = (
        "import sys; from worker.text import score_text; "
        "s = score_text('Quel désastre, une vraie trahison', 'fr'); "
        "assert s.label == 'neg', s; "
        "assert not any(m.lower().startswith('vadersentiment_fr') for m in sys.modules), 'imported'"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr.decode()


@pytest.mark.parametrize(
    ("text", "label"),
    [
        # Words only vaderSentiment-fr's lexicon knows (tocsin's social lexicon does not list them).
        ("Une trahison de plus", "neg"),
        ("Un comportement odieux et hypocrite", "neg"),
        ("Quelle cruauté envers les clients", "neg"),
        ("Un accueil merveilleux", "pos"),
        # Accent-free spellings that are another, commoner word stay neutral: "sur" is not "sûr".
        ("Le colis est sur la table", "neu"),
        ("Le mur du jardin", "neu"),
        # An intensifier is not a sentiment word by itself ("vraiment" is not "vrai").
        ("Ils ont vraiment répondu hier", "neu"),
        ("Ils ont complètement repeint la gare", "neu"),
        # ... but still intensifies a sentiment word.
        ("C'est vraiment cruel", "neg"),
        # "pas sérieux" is a complaint, like "sérieux" in vaderSentiment-fr's list.
        ("Ce n'est pas sérieux", "neg"),
        # Corrections of English senses: "prix" is a price, "plantes" are plants, "cher" is dear
        # only in a greeting and expensive when "trop" or "plus" says so.
        ("Le prix du billet", "neu"),
        ("Les plantes du jardin", "neu"),
        ("Cher client, votre colis", "neu"),
        ("C'est trop cher", "neg"),
        ("Pas terrible ce service", "neg"),
        ("J'ai bien profité du week-end", "pos"),
        # Common words the lexicon lacks, rated as VADER rates the English word they translate.
        ("Le lancement a échoué", "neg"),
        ("Un service gratuit et innovant", "pos"),
        # Regular inflections of listed words: "refuser" → "refusent", "dépressif" → "dépressives".
        ("Les clients refusent", "neg"),
        ("Ils abusent", "neg"),
        ("Des réponses dépressives", "neg"),
    ],
)
def test_french_lexicon_rules(text: str, label: str) -> None:
    s = score_text(text, "fr")
    assert s.label == label, s
