"""Regenerate the golden files of the demo scenario: `python -m tests.golden.regenerate`
(or `make golden`). Review the diff by eye before committing it.

Writes tests/golden/demo_packet.json and demo_weekly.json (compared exactly) and
demo_packet.outline / demo_weekly.outline (the pages' HTML structure, see outline.py).
"""

from __future__ import annotations

import contextlib
import io
import shutil
import sys
import tempfile
from pathlib import Path

from tests.golden.outline import outline

HERE = Path(__file__).parent
PACKET = "packets/1"
WEEKLY = "reports/weekly-2026-W45"


def run_demo(out: Path) -> str:
    """`tocsin demo --out OUT` in process; returns what it printed."""
    from tocsin.demo import run_demo as demo

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        demo(out)
    return printed.getvalue()


def goldens(out: Path) -> dict[str, str]:
    """The golden files' contents from a demo output directory."""
    return {
        "demo_packet.json": (out / PACKET / "packet.json").read_text(encoding="utf-8"),
        "demo_weekly.json": (out / f"{WEEKLY}.json").read_text(encoding="utf-8"),
        "demo_packet.outline": outline((out / PACKET / "index.html").read_text(encoding="utf-8")),
        "demo_weekly.outline": outline((out / f"{WEEKLY}.html").read_text(encoding="utf-8")),
    }


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="tocsin-golden-"))
    try:
        run_demo(tmp / "demo")
        for name, text in goldens(tmp / "demo").items():
            (HERE / name).write_text(text, encoding="utf-8")
            print(f"wrote {HERE / name}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
