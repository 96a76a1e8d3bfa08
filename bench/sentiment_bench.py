"""Sentiment accuracy and throughput of tocsin's routed scorer against the named baselines.

Measured on data outside the repository (never copied in, never trained or tuned on):

- English: TweetEval sentiment validation (`tweeteval_en/val_*`), labels 0 neg, 1 neu, 2 pos;
- French: the shared French tweets, `train` and `val` reported separately (both only measured).

Metric: macro-averaged recall over the three classes (TweetEval's official metric), and the recall
of each class, because for a crisis monitor the recall on negatives matters most.

Analyzers, all in one run: TextBlob's default analyzer (label = sign of polarity), VADER (its
documented ±0.05), textblob-fr (sign of polarity), and tocsin's `score_text` with the language
forced and with `lang="auto"` (language detection included).

Throughput, one process on one core: `score_text(text, "auto")` over every text of every set
against VADER's `polarity_scores` alone on the same texts.

    make bench            # or: .venv/bin/python bench/sentiment_bench.py [--data DIR] [--json F]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from worker.text import score_text  # noqa: E402

LABELS = {"neg": 0, "neu": 1, "pos": 2}
SETS = (
    ("en tweeteval val", "tweeteval_en", "val", "en"),
    ("fr tweets train", "tweets_fr", "train", "fr"),
    ("fr tweets val", "tweets_fr", "val", "fr"),
)


def load(data: Path, folder: str, split: str) -> tuple[list[str], list[int]]:
    texts = (data / folder / f"{split}_text.txt").read_text(encoding="utf-8").splitlines()
    labels = [int(x) for x in (data / folder / f"{split}_labels.txt").read_text().split()]
    if len(texts) != len(labels):
        raise SystemExit(f"{folder}/{split}: {len(texts)} texts but {len(labels)} labels")
    return texts, labels


def recalls(pred: Sequence[int], gold: Sequence[int]) -> list[float]:
    out = []
    for c in (0, 1, 2):
        n = sum(1 for g in gold if g == c)
        hit = sum(1 for p, g in zip(pred, gold, strict=True) if g == c and p == c)
        out.append(hit / n if n else float("nan"))
    return out


def sign(x: float) -> int:
    return 2 if x > 0 else 0 if x < 0 else 1


def analyzers(lang: str) -> dict[str, Callable[[str], int]]:
    from textblob import TextBlob
    from textblob_fr import PatternAnalyzer
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    vader = SentimentIntensityAnalyzer()
    fr = PatternAnalyzer()

    def vader_label(t: str) -> int:
        c = vader.polarity_scores(t)["compound"]
        return 2 if c >= 0.05 else 0 if c <= -0.05 else 1

    out: dict[str, Callable[[str], int]] = {}
    if lang == "en":
        out["textblob"] = lambda t: sign(TextBlob(t).sentiment.polarity)
    else:
        out["textblob-fr"] = lambda t: sign(fr.analyze(t)[0])
    out["vader"] = vader_label
    out[f"tocsin ({lang})"] = lambda t: LABELS[score_text(t, lang).label]
    out["tocsin (auto)"] = lambda t: LABELS[score_text(t, "auto").label]
    return out


def rate(fn: Callable[[str], object], texts: Sequence[str], min_seconds: float) -> float:
    done, start = 0, time.perf_counter()
    while True:
        for t in texts:
            fn(t)
        done += len(texts)
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return done / elapsed


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "sentiment")
    p.add_argument("--json", type=Path, help="also write every number here")
    p.add_argument("--seconds", type=float, default=3.0, help="least time per throughput run")
    args = p.parse_args(argv)

    results: dict[str, object] = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
        }
    }
    print(f"machine: {results['machine']}")
    print(f"\n{'set':18} {'analyzer':15} {'macro':>6} {'neg':>6} {'neu':>6} {'pos':>6}")
    accuracy: list[dict[str, object]] = []
    everything: list[str] = []
    for name, folder, split, lang in SETS:
        texts, gold = load(args.data, folder, split)
        everything.extend(texts)
        for label, fn in analyzers(lang).items():
            r = recalls([fn(t) for t in texts], gold)
            macro = sum(r) / 3
            print(f"{name:18} {label:15} {macro:6.3f} {r[0]:6.3f} {r[1]:6.3f} {r[2]:6.3f}")
            accuracy.append({"set": name, "analyzer": label, "macro_recall": macro, "recall": r})
    results["accuracy"] = accuracy

    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    vader = SentimentIntensityAnalyzer()
    ours = rate(lambda t: score_text(t, "auto"), everything, args.seconds)
    theirs = rate(vader.polarity_scores, everything, args.seconds)
    results["throughput"] = {"tocsin_auto": ours, "vader": theirs, "texts": len(everything)}
    print(
        f"\nthroughput over {len(everything)} texts, one core: tocsin score_text(auto) "
        f"{ours:,.0f} texts/s (language detection included); VADER alone {theirs:,.0f} texts/s; "
        f"ratio {ours / theirs:.1f}×"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
