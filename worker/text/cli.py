"""`tocsin score-text [--lang auto|en|fr]`: one text a line on stdin, one JSON a line on stdout.

The output line is `{"lang": ..., "polarity": ..., "label": ...}` from the same `score_text` that
ingest uses. A line that is not UTF-8 is reported on stderr with its number and answered with an
empty JSON object `{}` so output lines stay aligned with input lines; the rest goes on.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import BinaryIO, TextIO

from worker.text import score_text


def score_lines(lang: str, stdin: BinaryIO, stdout: TextIO, stderr: TextIO) -> int:
    bad = 0
    for no, raw in enumerate(stdin, start=1):
        try:
            text = raw.decode("utf-8-sig" if no == 1 else "utf-8").rstrip("\r\n")
        except UnicodeDecodeError as exc:
            print(f"score-text: line {no}: not valid UTF-8 (byte {exc.start + 1})", file=stderr)
            stdout.write("{}\n")
            bad += 1
            continue
        s = score_text(text, lang)
        stdout.write(
            json.dumps(
                {"lang": s.lang, "polarity": s.polarity, "label": s.label}, ensure_ascii=False
            )
            + "\n"
        )
    stdout.flush()
    return 1 if bad else 0


def score_text_main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(
        prog="tocsin score-text",
        description="Score the language and sentiment of one text a line read from stdin.",
    )
    p.add_argument("--lang", choices=("auto", "en", "fr"), default="auto")
    args = p.parse_args(list(argv))
    return score_lines(args.lang, sys.stdin.buffer, sys.stdout, sys.stderr)
