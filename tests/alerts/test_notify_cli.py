"""`tocsin notify test --channel NAME --to PERSON` through the real outbox and channel, as a user
runs it (a subprocess), against the Slack fake on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.fakes.slack import SlackFake
from worker.storage.db import make_engine, make_sessionmaker
from worker.storage.models import DeliveryAttempt


@pytest.fixture
def slack() -> Iterator[SlackFake]:
    fake = SlackFake()
    fake.start()
    yield fake
    fake.stop()


def run(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tocsin.cli", "notify", "test", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )


def test_notify_test_sends_through_the_outbox_and_reports_the_vendors_answer(
    tmp_path: Path, slack: SlackFake
) -> None:
    config = tmp_path / "tocsin.toml"
    config.write_text(
        f"""
[people.alice]
name = "Alice"
slack_user_id = "U0ALICE"
[people.bob]
name = "Bob"

[channels.slack]
type = "slack"
api_url = "{slack.url}"
token_env = "SLACK_TOKEN"
signing_secret_env = "SLACK_SIGNING_SECRET"
""",
        encoding="utf-8",
    )
    db = tmp_path / "data" / "tocsin.db"
    env = {
        "TOCSIN_DATA_DIR": str(tmp_path / "data"),
        "TOCSIN_DATABASE_URL": f"sqlite:///{db}",
        "TOCSIN_CONFIG": str(config),
        "TOCSIN_SECRET_KEY": "notify-test-secret-0123456789",
        "SLACK_TOKEN": slack.token,
    }
    ok = run(tmp_path, env, "--channel", "slack", "--to", "alice")
    assert ok.returncode == 0, ok.stderr
    assert "slack → alice (U0ALICE): delivered" in ok.stdout
    (posted,) = slack.posted()
    assert posted["channel"] == "D0ALICE" and "tocsin_ack" not in str(posted["blocks"])

    refused = run(
        tmp_path, {**env, "SLACK_TOKEN": "xoxb-revoked"}, "--channel", "slack", "--to", "alice"
    )
    assert refused.returncode == 1 and "invalid_auth" in refused.stderr
    no_address = run(tmp_path, env, "--channel", "slack", "--to", "bob")
    assert no_address.returncode == 2 and "bob has no address on slack" in no_address.stderr
    unknown = run(tmp_path, env, "--channel", "pager", "--to", "alice")
    assert unknown.returncode == 2 and "unknown channel 'pager'" in unknown.stderr

    engine = make_engine(f"sqlite:///{db}")
    with make_sessionmaker(engine)() as s:
        attempts = s.scalars(select(DeliveryAttempt).order_by(DeliveryAttempt.id)).all()
        assert [(a.channel, a.ok) for a in attempts] == [("slack", True), ("slack", False)]
    engine.dispose()
