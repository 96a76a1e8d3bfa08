"""A corpus of hostile input: what a post, an author name or a feed entry may carry.

Each string is meant to be put in *every* field a platform lets its users control. Together they
cover markup and script injection, header and line injection, SQL-looking text, bidirectional
overrides and zero-width characters (spoofing), giant emoji runs, control characters, lone
surrogates and numbers out of range. `giant_line()` is a 10 MB post.
"""

from __future__ import annotations

from typing import Any

SCRIPT = '<script>alert("tocsin")</script>'
IMG = "<img src=x onerror=alert(1)>"
STRINGS: list[str] = [
    SCRIPT,
    IMG,
    '"><svg/onload=alert(2)>',
    "javascript:alert(3)",
    "</textarea></title></style><script>alert(4)</script>",
    "{{ 7*7 }} {% raw %}${7*7}#{7*7}",  # template injection
    "Robert'); DROP TABLE mentions;--",
    "1 OR 1=1; SELECT * FROM incidents WHERE '1'='1",
    "\u202eevil\u202c gnp.exe \u2066isolated\u2069",  # RTL override, isolates
    "zero\u200bwidth\u200cjoin\u200dnbsp\ufeffbom",
    "\U0001f525" * 5000,  # a giant emoji run
    "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466" * 500,  # ZWJ sequences
    "line one\r\nBcc: victim@example.com\r\n\r\nforged body",
    "nul\x00byte and \x07bell and \x1b[31mANSI red\x1b[0m",
    "lone surrogate \ud800 here",
    "A" * 400,
    "",
]


def record(i: int, s: str, *, created_at: str = "2026-09-07T12:00:00+00:00") -> dict[str, Any]:
    """One Mentions JSONL record with `s` in every string field the author controls."""
    return {
        "platform": "mastodon",
        "id": f"h{i}-{s[:20]}",
        "created_at": created_at,
        "text": f"Acme leaked my data {s} disgrace, I am furious #AcmeBreach",
        "author": s or "anon",
        "url": f"https://x.example/{s}",
        "lang": s[:10] or None,
        "in_reply_to": s or None,
        "topic": "acme",
        "likes": 2**40,
        "author_followers": 1e20,
        s[:30] or "empty": s,  # an unknown key: kept in extra
        "nested": {"html": s, "deep": [[[[[[[[[[[s]]]]]]]]]]]},
    }


def giant_line(i: int) -> dict[str, Any]:
    """A 10 MB post."""
    return {**record(i, "big"), "text": "Acme " + "x" * 10_000_000}
