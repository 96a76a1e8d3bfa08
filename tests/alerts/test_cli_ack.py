"""`tocsin incidents` and `tocsin ack` against the embedded SQLite database of a data directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.alerts.scenario import make_runtime, open_incident
from worker.runtime import Runtime
from worker.storage.models import Incident


def tocsin(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TOCSIN_DATA_DIR": str(data_dir),
        "TOCSIN_DATABASE_URL": f"sqlite:///{data_dir / 'tocsin.db'}",
        "TOCSIN_CONFIG": str(data_dir / "absent.toml"),
    }
    return subprocess.run(
        [sys.executable, "-m", "tocsin.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_ack_from_the_terminal_stops_the_incident_once(tmp_path: Path) -> None:
    rt: Runtime = make_runtime(tmp_path)
    try:
        inc_id = open_incident(rt)
        listed = tocsin(tmp_path, "incidents")
        assert listed.returncode == 0, listed.stderr
        assert f"#{inc_id}" in listed.stdout and "triggered" in listed.stdout
        done = tocsin(tmp_path, "ack", str(inc_id), "--by", "bob")
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"incident {inc_id}: acknowledged"
        again = tocsin(tmp_path, "ack", str(inc_id), "--by", "carol")
        assert again.stdout.strip() == f"incident {inc_id}: already_acknowledged"
        missing = tocsin(tmp_path, "ack", "999")
        assert missing.returncode == 1 and "not_found" in missing.stdout
        with rt.sessions() as s:
            inc = s.get(Incident, inc_id)
            assert inc is not None and inc.state == "acknowledged" and inc.acknowledged_by == "bob"
    finally:
        rt.dispose()
