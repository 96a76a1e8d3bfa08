"""The Mentions JSONL / CSV import path: every bad line is reported with its number and reason,
and every good line is kept."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from worker.sources.jsonl import LineError, read_mentions_file

GOOD = {
    "platform": "mastodon",
    "id": "1",
    "created_at": "2026-09-01T12:00:00Z",
    "text": "Acme <b>rocks</b>",
    "author": "ann",
    "likes": 3,
    "topic": "acme",
    "lang_hint": "kept in extra",
}


def write_lines(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_jsonl_bad_lines_are_reported_and_the_rest_kept(tmp_path: Path) -> None:
    lines = [
        json.dumps(GOOD).encode(),
        b"{not json",
        json.dumps({**GOOD, "id": "2", "created_at": "2026-09-01 12:00"}).encode(),
        b"",
        json.dumps({**GOOD, "id": "3", "likes": -1}).encode(),
        b"[1, 2]",
        json.dumps({**GOOD, "id": "4"}).encode()[:-1] + b', "text": "caf\xe9"}',
        json.dumps({k: v for k, v in GOOD.items() if k != "text"}).encode(),
        json.dumps({**GOOD, "id": 5, "text": "Acme again"}).encode(),
    ]
    mentions, errors = read_mentions_file(write_lines(tmp_path / "m.jsonl", lines))
    assert [m.id for m in mentions] == ["1", "5"]
    first = mentions[0]
    assert first.created_at == datetime(2026, 9, 1, 12, tzinfo=UTC)
    assert first.text == "Acme <b>rocks</b>"  # stored verbatim; escaped when rendered
    assert first.extra == {"lang_hint": "kept in extra"}
    by_line = {e.line_no: e.reason for e in errors}
    assert sorted(by_line) == [2, 3, 5, 6, 7, 8]
    assert "not valid JSON" in by_line[2]
    assert "no UTC offset" in by_line[3]
    assert "'likes'" in by_line[5]
    assert "JSON object" in by_line[6]
    assert "UTF-8" in by_line[7]
    assert "'text'" in by_line[8]


def test_csv_with_column_mapping(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "Network,Post ID,Date,Message,Followers\n"
        'twitter,10,2026-09-01T12:00:00+02:00,"Acme, again ""really""",1200\n'
        "twitter,11,yesterday,Acme,5\n"
        "twitter,12,2026-09-01T12:05:00+00:00,,5\n",
        encoding="utf-8",
    )
    columns = {
        "Network": "platform",
        "Post ID": "id",
        "Date": "created_at",
        "Message": "text",
        "Followers": "author_followers",
    }
    mentions, errors = read_mentions_file(path, columns=columns)
    assert [(m.id, m.text, m.author_followers) for m in mentions] == [
        ("10", 'Acme, again "really"', 1200)
    ]
    assert mentions[0].created_at == datetime(2026, 9, 1, 10, tzinfo=UTC)
    assert errors == [
        LineError(3, "'created_at' is not an ISO 8601 time: 'yesterday'"),
        LineError(4, "missing required field 'text'"),
    ]
