"""The deployment files are valid: docker-compose.yml passes `docker compose config`."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def _compose() -> list[str] | None:
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run(
            [docker, "compose", "version"], capture_output=True, check=False
        ).returncode
        == 0
    ):
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_compose_file_is_accepted_and_has_every_service() -> None:
    """`docker compose config` accepts the file; it runs redis, postgres, migrate, worker, beat, web."""
    cmd = _compose()
    if cmd is None:
        pytest.skip(
            "neither `docker compose` nor docker-compose is installed (make services adds it)"
        )
    env = {**os.environ, "TOCSIN_SECRET_KEY": "k" * 32}
    proc = subprocess.run(
        [*cmd, "-f", str(ROOT / "docker-compose.yml"), "config", "--services"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    services = set(proc.stdout.split())
    assert {"redis", "postgres", "migrate", "worker", "beat", "web"} <= services


def test_compose_refuses_to_start_without_a_secret_key() -> None:
    """Production must set TOCSIN_SECRET_KEY: the compose file says so instead of inventing one."""
    cmd = _compose()
    if cmd is None:
        pytest.skip("neither `docker compose` nor docker-compose is installed")
    env = {k: v for k, v in os.environ.items() if k != "TOCSIN_SECRET_KEY"}
    proc = subprocess.run(
        [*cmd, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode != 0
    assert "TOCSIN_SECRET_KEY" in proc.stderr
