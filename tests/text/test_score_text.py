"""`tocsin score-text` and the scorer it shares with ingest."""

from __future__ import annotations

import json
import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from worker.text import detect_language, score_text, split_hashtag


def test_cli_scores_each_line_and_reports_a_bad_one() -> None:
    stdin = (
        b"I love Acme, best support ever!\n"
        + "Acme a encore planté, merci pour rien #JeBoycotteAcme\n".encode()
        + b"\xff\xfe not utf-8\n"
        + b"Le service client est vraiment nul\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "tocsin.cli", "score-text", "--lang", "auto"],
        input=stdin,
        capture_output=True,
        timeout=120,
        check=False,
    )
    out = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert len(out) == 4  # one output line per input line, even the bad one
    assert out[0] == {"lang": "en", "polarity": out[0]["polarity"], "label": "pos"}
    assert out[1]["lang"] == "fr" and out[1]["label"] == "neg"  # irony: "merci pour rien"
    assert out[2] == {}
    assert out[3]["lang"] == "fr" and out[3]["label"] == "neg"
    assert "line 3: not valid UTF-8" in done.stderr.decode()
    assert done.returncode == 1


def test_forced_language_is_used() -> None:
    assert score_text("terrible", "en").lang == "en"
    assert score_text("nul", "fr").lang == "fr"


def test_short_messy_posts() -> None:
    assert (
        detect_language("@acme_support my order never arrived and nobody answers 😡 https://t.co/x")
        == "en"
    )
    assert (
        detect_language("@acme_fr ma commande n'est jamais arrivée et personne ne répond 😡")
        == "fr"
    )
    assert detect_language("😡😡😡 https://t.co/x") == "unknown"
    assert split_hashtag("#JeBoycotteAcme").lower() == "je boycotte acme"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.sampled_from(["auto", "en", "fr"]))
def test_polarity_is_always_in_range(text: str, lang: str) -> None:
    s = score_text(text, lang)
    assert -1.0 <= s.polarity <= 1.0
    assert s.label in ("neg", "neu", "pos")
