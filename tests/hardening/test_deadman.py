"""The dead man's switch on real databases, paging through a real webhook receiver and pinging a
healthchecks-style URL on loopback: it pages once per stall, through a channel incidents do not
use, and says once when the pipeline recovered."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from alerts.channels import build_channels
from alerts.deadman import check_pipeline, pick_channel, run_deadman
from tests.fakes.recorder import Recorder
from worker.config import ConfigError, parse_config
from worker.heartbeat import record_heartbeat
from worker.storage.models import Notification

T0 = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    r = Recorder().start()
    yield r
    r.stop()


def config_text(recorder: Recorder) -> str:
    return f"""
[[topics]]
name = "acme"

[people.alice]
email = "alice@example.com"

[groups]
oncall = ["alice"]
leadership = ["alice"]

[channels.email]
type = "smtp"
host = "127.0.0.1"
from = "tocsin@example.com"

[channels.pager]
type = "webhook"
url = "{recorder.url("/pager")}"

[policies.default]
steps = [{{ after_minutes = 0, notify = ["oncall"], channels = ["email"] }}]

[deadman]
heartbeat_url = "{recorder.url("/ping/abc")}"
"""


def beat(sessions: sessionmaker[Session], at: datetime) -> None:
    with sessions.begin() as s:
        record_heartbeat(s, "evaluate:acme", at, seconds=0.01)
        record_heartbeat(s, "escalation_tick", at, seconds=0.002)


def test_pages_once_per_stall_and_once_on_recovery(
    sessions: sessionmaker[Session], recorder: Recorder, tmp_path: Path
) -> None:
    config = parse_config(config_text(recorder))
    channels = build_channels(config, tmp_path / "outbox")
    assert pick_channel(config, config.sections["deadman"]) == "pager"

    def run(at: datetime) -> list[str]:
        return [s.component for s in run_deadman(sessions, config, at, channels=channels).stalls]

    assert run(T0) == []  # a fresh install: nothing ran yet, but nothing is late either
    beat(sessions, T0)
    assert run(T0 + timedelta(minutes=1)) == []
    # Beat stops: the escalation tick is silent for 5 minutes (limit 3).
    assert run(T0 + timedelta(minutes=5)) == ["beat"]
    assert run(T0 + timedelta(minutes=6)) == ["beat"]  # still stalled: no second page
    # The outbox gets stuck too: a new component, so a new page.
    with sessions.begin() as s:
        s.add(
            Notification(
                incident_id=None,
                idempotency_key="k1",
                recipient="alice",
                role="on-call",
                channel="email",
                address="alice@example.com",
                subject="x",
                body={},
                status="pending",
                attempts=1,
                created_at=T0,
                next_attempt_at=T0 + timedelta(minutes=1),
            )
        )
    assert run(T0 + timedelta(minutes=12)) == ["beat", "outbox"]
    assert run(T0 + timedelta(minutes=16)) == ["evaluation", "beat", "outbox"]
    # Everything runs again.
    beat(sessions, T0 + timedelta(minutes=20))
    with sessions.begin() as s:
        s.execute(update(Notification).values(status="sent"))
    assert run(T0 + timedelta(minutes=20)) == []
    assert run(T0 + timedelta(minutes=21)) == []

    pages = recorder.bodies("/pager")
    assert [(p["subject"], p["recipient"]) for p in pages] == [
        ("[tocsin] PIPELINE STALLED: beat", "alice"),
        ("[tocsin] PIPELINE STALLED: beat, outbox", "alice"),
        ("[tocsin] PIPELINE STALLED: evaluation, beat, outbox", "alice"),
        ("[tocsin] pipeline recovered", "alice"),
    ]
    assert "escalation tick not running" in pages[0]["explanations"][0]
    pings = recorder.paths("/ping/")
    assert pings == ["/ping/abc"] * 2 + ["/ping/abc/fail"] * 4 + ["/ping/abc"] * 2


def test_check_is_a_plain_function_of_the_rows(
    sessions: sessionmaker[Session], recorder: Recorder
) -> None:
    """Without the switch having run, a missing heartbeat is not (yet) a stall."""
    config = parse_config(config_text(recorder))
    beat(sessions, T0)
    with sessions() as s:
        assert check_pipeline(s, config, T0 + timedelta(minutes=2)) == []
        late = check_pipeline(s, config, T0 + timedelta(minutes=30))
    assert [x.component for x in late] == ["evaluation", "beat"]


def test_deadman_section_is_validated() -> None:
    with pytest.raises(ConfigError, match=r"deadman.beat_minutes: must be a finite number"):
        parse_config("[deadman]\nbeat_minutes = inf\n")
    with pytest.raises(ConfigError, match=r"deadman.heartbeat_url: must be an http"):
        parse_config('[deadman]\nheartbeat_url = "ftp://x"\n')
    with pytest.raises(
        ConfigError, match=r"^tocsin.toml:2: deadman.channel: unknown channel 'sms'"
    ):
        parse_config('[deadman]\nchannel = "sms"\n')
    with pytest.raises(ConfigError, match=r"deadman.notify\[0\]: unknown person or group 'ops'"):
        parse_config('[deadman]\nnotify = ["ops"]\n')
