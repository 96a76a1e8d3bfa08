"""`tocsin poll --once --json`, `tocsin sources --json` and `tocsin export mentions`, run as real
commands against loopback fakes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.fakes.hackernews_server import HackerNewsFake
from tests.fakes.x_server import XFake


@pytest.fixture
def fakes() -> Iterator[tuple[XFake, HackerNewsFake]]:
    x, hn = XFake(prefix="/x", token="AAAA-secret").start(), HackerNewsFake(prefix="/hn").start()
    yield x, hn
    x.stop()
    hn.stop()


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tocsin.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_poll_once_sources_and_export(fakes: tuple[XFake, HackerNewsFake], tmp_path: Path) -> None:
    x, hn = fakes
    now = datetime.now(UTC)
    x.add("Lumio & the <b>outage</b>", at=now - timedelta(hours=1), username="ann")
    x.add("lumio again", at=now - timedelta(minutes=30), username="bob")
    hn.add("Lumio&#x27;s status page is down", at=now - timedelta(minutes=20))
    config = tmp_path / "tocsin.toml"
    config.write_text(
        f"""
[sources.x]
base_url = "{x.base_url}"
token_env = "TEST_X_TOKEN"
[sources.hackernews]
base_url = "{hn.base_url}"

[[topics]]
name = "lumio"
[topics.queries]
x = ["lumio -is:retweet"]
hackernews = ["lumio"]

[[topics]]
name = "other"
[topics.queries]
hackernews = ["nothing-matches"]
""",
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "TOCSIN_DATA_DIR": str(tmp_path / "data"),
        "TOCSIN_CONFIG": str(config),
        "TOCSIN_SECRET_KEY": "cli-test-secret-key-0123",
        "TEST_X_TOKEN": "AAAA-secret",
    }
    first = run(env, "poll", "--once", "--json")
    assert first.returncode == 0, first.stderr
    rows = json.loads(first.stdout)
    got = {(r["topic"], r["platform"]): (r["fetched"], r["new"], r["health"]) for r in rows}
    assert got == {
        ("lumio", "x"): (2, 2, "ok"),
        ("lumio", "hackernews"): (1, 1, "ok"),
        ("other", "hackernews"): (0, 0, "ok"),
    }
    assert set(rows[0]) == {"topic", "platform", "query", "fetched", "new", "health", "detail"}

    # X now refuses the token: the poll finishes, exit 3, and the detail names the variable.
    x.token = "rotated"
    second = run(env, "poll", "--once", "--topic", "lumio", "--json")
    assert second.returncode == 3, second.stderr
    rows2 = {r["platform"]: r for r in json.loads(second.stdout)}
    assert rows2["x"]["health"] == "auth_failed" and "TEST_X_TOKEN" in rows2["x"]["detail"]
    assert "AAAA-secret" not in second.stdout
    assert rows2["hackernews"]["health"] == "ok" and rows2["hackernews"]["new"] == 0

    listed = run(env, "sources", "--json")
    assert listed.returncode == 0, listed.stderr
    by = {(r["topic"], r["platform"]): r for r in json.loads(listed.stdout)}
    assert by[("lumio", "x")]["health"] == "auth_failed"
    assert by[("lumio", "x")]["last_success"] is not None
    assert by[("lumio", "hackernews")]["budget_remaining"] == 10_000 - 3
    assert by[("lumio", "hackernews")]["next_poll"] is not None

    out = tmp_path / "lumio.jsonl"
    exported = run(env, "export", "mentions", "--topic", "lumio", "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(m["platform"], m["author"]) for m in lines] == [
        ("x", "ann"),
        ("x", "bob"),
        ("hackernews", "pg"),
    ]
    assert (
        lines[0]["text"] == "Lumio & the <b>outage</b>" or lines[0]["text"] == "Lumio & the outage"
    )
    assert lines[2]["text"] == "Lumio's status page is down"
    assert lines[0]["url"].startswith("https://x.com/ann/status/")
    assert datetime.fromisoformat(lines[0]["created_at"]).utcoffset() == timedelta(0)
    assert set(lines[0]) >= {
        "platform",
        "id",
        "created_at",
        "text",
        "url",
        "author",
        "likes",
        "topic",
    }
    since = (now - timedelta(minutes=25)).isoformat()
    recent = run(env, "export", "mentions", "--topic", "lumio", "--since", since, "--out", str(out))
    assert recent.returncode == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 1
    bad = run(
        env,
        "export",
        "mentions",
        "--topic",
        "lumio",
        "--since",
        "2026-01-01T00:00",
        "--out",
        str(out),
    )
    assert bad.returncode == 2 and "offset" in bad.stderr
