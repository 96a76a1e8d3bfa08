"""`tocsin report weekly|monthly|span` over the live database, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from tests.alerts.reporting import CONFIG, build_incident, config
from worker.storage.db import make_engine, make_sessionmaker, upgrade
from worker.storage.models import Notification


def tocsin(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TOCSIN_DATA_DIR": str(tmp_path),
        "TOCSIN_CONFIG": str(tmp_path / "tocsin.toml"),
        "TOCSIN_SECRET_KEY": "cli-test-secret-0123456789",
    }
    return subprocess.run(
        [sys.executable, "-m", "tocsin.cli", "report", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_report_commands_write_files_send_once_and_refuse_bad_arguments(tmp_path: Path) -> None:
    (tmp_path / "tocsin.toml").write_text(CONFIG, encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'tocsin.db'}"
    upgrade(url)
    engine = make_engine(url)
    build_incident(make_sessionmaker(engine), config())
    out = tmp_path / "out"

    done = tocsin(tmp_path, "weekly", "--week", "2026-W45", "--out", str(out), "--send", "--no-pdf")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "weekly-2026-W45.html",
        "weekly-2026-W45.json",
        "weekly-2026-W45.txt",
    ]
    report = json.loads((out / "weekly-2026-W45.json").read_text(encoding="utf-8"))
    assert report["topics"][0]["mentions"] == 46 * 3 + 40
    assert "queued 2 notification(s) for leadership" in done.stdout
    with engine.connect() as c:
        reports = select(func.count()).where(Notification.role == "report")
        assert c.scalar(reports) == 2

    bad = tocsin(tmp_path, "weekly", "--week", "45", "--out", str(out))
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "tocsin report: not an ISO week (expected YYYY-Www, e.g. 2026-W45): '45'"
    )
    engine.dispose()
