"""`tocsin import` and the JSONL/CSV readers: every good line is kept, every bad one reported
as FILE:LINE with its reason, and the counts printed are exact."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tocsin.live import import_file
from worker.config import default_config
from worker.model import Mention
from worker.runtime import Runtime, build_runtime, set_runtime
from worker.settings import load_settings
from worker.sources.jsonl import LineError, read_mentions_file
from worker.storage.models import MentionRow


def line(i: int, **kw: object) -> str:
    data: dict[str, object] = {
        "platform": "mastodon",
        "id": str(i),
        "created_at": "2026-09-01T12:00:00+00:00",
        "text": f"Acme post {i}",
        "author": f"user{i}",
        "topic": "acme",
    }
    data.update(kw)
    return json.dumps(data)


@pytest.fixture
def runtime(db_url: str, tmp_path: Path) -> Iterator[Runtime]:
    settings = load_settings(
        {
            "TOCSIN_DATA_DIR": str(tmp_path / "data"),
            "TOCSIN_DATABASE_URL": db_url,
            "TOCSIN_SECRET_KEY": "import-test-secret-0123456789",
        }
    )
    rt = build_runtime(settings, default_config(["acme"]))
    set_runtime(rt)
    yield rt
    set_runtime(None)
    rt.dispose()


def stored(rt: Runtime) -> int:
    with rt.sessions() as s:
        return s.scalar(select(func.count()).select_from(MentionRow)) or 0


def test_one_bad_line_never_costs_the_others(
    runtime: Runtime, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """1,500 lines, an over-long author at 1,201 and an unrepresentable date at 1,300: 1,499 stored,
    the date reported as FILE:1300, and the summary counts are exact (all share one timestamp)."""
    lines = [line(i) for i in range(1, 1501)]
    lines[1200] = line(1201, author="x" * 330)
    lines[1299] = line(1300, created_at="0001-01-01T00:00:00+14:00")
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert import_file(path, topic=None, columns=None) == 0
    out, err = capsys.readouterr()
    assert stored(runtime) == 1499
    assert f"{path}:1300: skipped: 'created_at' cannot be expressed in UTC" in err
    assert err.count("skipped") == 1
    assert "imported 1499 new mentions (0 already stored, 1 lines skipped)" in out
    assert import_file(path, topic=None, columns=None) == 0
    assert (
        "imported 0 new mentions (1499 already stored, 1 lines skipped)" in capsys.readouterr()[0]
    )


def test_a_line_the_database_refuses_is_reported_alone(
    runtime: Runtime,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """If a line gets past the normaliser and the database refuses it, the chunk is stored line
    by line: only that line is lost, named with its number and a reason without its content."""
    if not runtime.settings.database_url.startswith("postgresql"):
        pytest.skip("SQLite does not enforce VARCHAR lengths; the fallback is proven on PostgreSQL")

    def passthrough(mention: Mention, topic: str | None = None, **_: object) -> Mention:
        return replace(mention, topic=topic or mention.topic or "default")

    # Break the normaliser on purpose, so the database is what refuses the 330-character author.
    monkeypatch.setattr("worker.sources.jsonl.normalize_mention", passthrough)
    monkeypatch.setattr("worker.ingest.normalise", passthrough)
    lines = [line(i) for i in range(1, 21)]
    lines[11] = line(12, author="secret-" + "y" * 330)
    path = tmp_path / "f.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    import_file(path, topic=None, columns=None)
    out, err = capsys.readouterr()
    assert stored(runtime) == 19
    assert f"{path}:12: skipped: StringDataRightTruncation: value too long" in err
    assert "secret-" not in err
    assert "imported 19 new mentions (0 already stored, 1 lines skipped)" in out


def test_jsonl_reader_survives_nesting_overflow_and_nan(tmp_path: Path) -> None:
    """Deep nesting (RecursionError), an overflowing date, 1e20, NaN and a 10 MB line are each
    handled on their own line; the reader never raises."""
    deep = '{"a":' * 100_000 + "1" + "}" * 100_000
    lines = [
        line(1),
        deep,
        line(3, created_at="0001-01-01T00:00:00+14:00"),
        line(4, author_followers=1e20, likes=2**40),
        line(5).replace("}", ', "score": NaN}'),
        line(6, text="z" * 10_000_000),
        line(7, author="bad\x00\u202eauthor\r\nBcc: x@evil.example"),
    ]
    path = tmp_path / "h.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    mentions, errors = read_mentions_file(path)
    assert [m.id for m in mentions] == ["1", "4", "5", "6", "7"]
    assert [e.line_no for e in errors] == [2, 3]
    assert "nested too deeply" in errors[0].reason
    assert "cannot be expressed in UTC" in errors[1].reason
    by_id = {m.id: m for m in mentions}
    assert by_id["4"].author_followers == 2**31 - 1
    assert by_id["5"].extra == {"score": None}
    assert len(by_id["6"].text) == 20_000
    assert "\n" not in (by_id["7"].author or "") and "\x00" not in (by_id["7"].author or "")


def test_csv_unterminated_quote_does_not_swallow_the_next_row(tmp_path: Path) -> None:
    """A stray quote is reported on its own line; the rows after it are read as usual, and a
    real multi-line quoted field is still one record."""
    path = tmp_path / "q.csv"
    path.write_text(
        "platform,id,created_at,text\n"
        'x,1,2026-09-01T12:00:00+00:00,"Acme broken quote\n'
        "x,2,2026-09-01T12:01:00+00:00,next row survives\n"
        'x,3,2026-09-01T12:02:00+00:00,"two\nlines, one post"\n'
        "x,4,2026-09-01T12:03:00+00:00,last\n"
        'x,5,2026-09-01T12:04:00+00:00,"never closed\n',
        encoding="utf-8",
    )
    mentions, errors = read_mentions_file(path)
    assert [(m.id, m.text) for m in mentions] == [
        ("2", "next row survives"),
        ("3", "two\nlines, one post"),
        ("4", "last"),
    ]
    assert [e.line_no for e in errors] == [2, 7]
    assert all("unterminated quote" in e.reason for e in errors)
    assert isinstance(errors[0], LineError)
