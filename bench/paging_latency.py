"""Paging latency of `tocsin run` on embedded defaults (SQLite database, SQLite broker): the timing
issue 13 promises the team, measured against loopback fakes of Slack, Twilio and PagerDuty.

    .venv/bin/python bench/paging_latency.py [--rounds 6] [--steps 3]

Starts `tocsin run` (worker with its beat, and the web app) with no TOCSIN_DATABASE_URL and no
TOCSIN_BROKER_URL — the defaults a newcomer gets — and the channels pointed at the fakes
(`tests/fakes/`, the ones the tests use; each records when a request arrived). After one warm-up
incident (not counted), it measures, per round:

1. **open → first page**: from starting `tocsin incident open --topic T --severity 2 --title X`
   (a new process, as a person types it) to the first page handed to Slack, Twilio or PagerDuty
   (the fake received the request), and to the last of the three. Target: under 10 s.
2. **acknowledge → visible**: a signed Slack press on the page's Acknowledge button is POSTed to
   `/integrations/slack/interactions`; from then until `GET /api/incidents` (what the dashboard
   reads) and `tocsin incidents --json` (a new process) show the incident acknowledged, and until
   Slack receives the `chat.update` that replaces the buttons with "Acknowledged by Alice".
   Target: under 5 s.
3. **a step due at +1 minute**: `--steps` other incidents, left unacknowledged, whose second step
   (leadership, by SMS) is due one minute after they opened; from that due time (the incident's
   `opened_at` in the database + 60 s) to the step firing (its `step_fired` timeline row) and to
   the SMS reaching Twilio. Target: within 15 s.

Rounds start at different phases of the beat (a pause of 0.0, 1.7, 3.4, … s modulo 5 s between
them), so the spread covers a tick that just ran and one about to run. Prints the machine line
(CPU, Python, 1-minute load average: the machine may be shared) and a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import load, machine  # noqa: E402
from tests.fakes.pagerduty import PagerDutyFake  # noqa: E402
from tests.fakes.slack import SlackFake, press  # noqa: E402
from tests.fakes.twilio import TwilioFake  # noqa: E402

SIGNING = "bench-slack-signing-secret"
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: str, check: Callable[[], T | None], timeout: float, proc: Any) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        if proc.poll() is not None:
            raise SystemExit(f"tocsin run exited ({proc.returncode}) while waiting for {what}")
        time.sleep(0.02)
    raise SystemExit(f"timed out after {timeout:g} s waiting for {what}")


def config_text(slack: SlackFake, twilio: TwilioFake, pd: PagerDutyFake, topics: list[str]) -> str:
    topic_tables = "".join(f'[[topics]]\nname = "{t}"\ndisplay_name = "{t}"\n' for t in topics)
    return f"""{topic_tables}
[people.alice]
name = "Alice"
phone = "+15550100001"
slack_user_id = "U0ALICE"
[people.carol]
name = "Carol"
phone = "+15550100002"

[groups]
oncall = ["alice"]
leadership = ["carol"]

[policies.default]
steps = [
  {{ after_minutes = 0, notify = ["oncall"], channels = ["slack", "sms", "pagerduty"] }},
  {{ after_minutes = 1, notify = ["leadership"], channels = ["sms"], role = "leadership" }},
]
severe_at = 1

[channels.slack]
type = "slack"
api_url = "{slack.url}"
token_env = "SLACK_TOKEN"
signing_secret_env = "SLACK_SIGNING_SECRET"
channel = "C0TOCSIN"

[channels.sms]
type = "twilio"
api_url = "{twilio.url}"
account_sid_env = "TWILIO_ACCOUNT_SID"
auth_token_env = "TWILIO_AUTH_TOKEN"
from = "{twilio.number}"

[channels.pagerduty]
type = "pagerduty"
api_url = "{pd.url}"
routing_key_env = "PAGERDUTY_ROUTING_KEY"
"""


class Bench:
    def __init__(self, tmp: Path, rounds: int, steps: int) -> None:
        self.tmp, self.rounds, self.steps = tmp, rounds, steps
        self.slack, self.twilio, self.pd = SlackFake(), TwilioFake(), PagerDutyFake()
        for fake in (self.slack, self.twilio, self.pd):
            fake.start()
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        topics = (
            ["warmup"] + [f"page{i}" for i in range(rounds)] + [f"step{i}" for i in range(steps)]
        )
        (tmp / "tocsin.toml").write_text(
            config_text(self.slack, self.twilio, self.pd, topics), encoding="utf-8"
        )
        self.env = {
            k: v
            for k, v in os.environ.items()
            if k
            not in (
                "TOCSIN_DATABASE_URL",
                "TOCSIN_BROKER_URL",
                "TOCSIN_BEAT_SECONDS",
                "TOCSIN_API_TOKEN",
            )
        }
        self.env.update(
            {
                "TOCSIN_DATA_DIR": str(tmp / "data"),
                "TOCSIN_CONFIG": str(tmp / "tocsin.toml"),
                "TOCSIN_SECRET_KEY": "bench-secret-0123456789abcdef",
                "TOCSIN_WEB_PORT": str(port),
                "TOCSIN_BASE_URL": self.base,
                "SLACK_TOKEN": self.slack.token,
                "SLACK_SIGNING_SECRET": SIGNING,
                "TWILIO_ACCOUNT_SID": self.twilio.sid,
                "TWILIO_AUTH_TOKEN": self.twilio.token,
                "PAGERDUTY_ROUTING_KEY": self.pd.routing_key,
            }
        )
        self.proc: subprocess.Popen[bytes] | None = None
        #: CPU seconds (user + system) of each `tocsin` command run, by subcommand: about what
        #: the command takes on an idle machine.
        self.cli_cpu: dict[str, list[float]] = {}

    # -- the product, as a person runs it ----------------------------------------------------
    def tocsin(self, *args: str) -> str:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run(
            [sys.executable, "-m", "tocsin.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        self.cli_cpu.setdefault(args[0], []).append(cpu)
        return out.stdout

    def start(self) -> None:
        log = (self.tmp / "run.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tocsin.cli", "run"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def up() -> bool:
            try:
                return httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for("the web app", up, 120, self.proc)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        for fake in (self.slack, self.twilio, self.pd):
            fake.stop()

    def open(self, topic: str) -> int:
        return int(
            self.tocsin(
                "incident", "open", "--topic", topic, "--severity", "2", "--title", f"bench {topic}"
            ).strip()
        )

    # -- what the fakes received ---------------------------------------------------------------
    def slack_page(self, inc: int) -> tuple[float, dict[str, Any]] | None:
        for r in list(self.slack.requests):
            if r.path == "/api/chat.postMessage" and r.status == 200:
                body = r.json()
                if body["metadata"]["event_payload"]["incident_id"] == inc:
                    return r.at, body
        return None

    def sms_to(self, inc: int, phone: str) -> float | None:
        for r in list(self.twilio.requests):
            if r.status == 201:
                form = r.form()
                if form["To"] == phone and f"ACK {inc}" in form["Body"]:
                    return r.at
        return None

    def pd_trigger(self, inc: int) -> float | None:
        for r in list(self.pd.requests):
            if r.status == 202:
                e = r.json()
                details = e.get("payload", {}).get("custom_details", {})
                if e["event_action"] == "trigger" and details.get("incident_id") == inc:
                    return r.at
        return None

    def slack_update(self, channel: str, ts: str) -> float | None:
        for r in list(self.slack.requests):
            if r.path == "/api/chat.update" and r.status == 200:
                body = r.json()
                if body["channel"] == channel and body["ts"] == ts:
                    return r.at
        return None

    def incident(self, inc: int) -> dict[str, Any]:
        rows = json.loads(self.tocsin("incidents", "--all", "--json"))
        return next(r for r in rows if r["id"] == inc)

    # -- the three measurements ----------------------------------------------------------------
    def page_round(self, topic: str) -> dict[str, float]:
        assert self.proc is not None
        started = time.time()
        inc = self.open(topic)
        opened = time.time()
        slack_at, posted = wait_for("the Slack page", lambda: self.slack_page(inc), 120, self.proc)
        sms_at = wait_for("the SMS page", lambda: self.sms_to(inc, "+15550100001"), 120, self.proc)
        pd_at = wait_for("the PagerDuty trigger", lambda: self.pd_trigger(inc), 120, self.proc)
        first, last = min(slack_at, sms_at, pd_at), max(slack_at, sms_at, pd_at)

        body, headers = press(SIGNING, "U0ALICE", inc)
        pressed = time.time()
        r = httpx.post(
            f"{self.base}/integrations/slack/interactions",
            content=body,
            headers=headers,
            timeout=10,
        )
        assert r.status_code == 200, r.text
        answered = time.time()

        def api_shows() -> bool:
            rows = httpx.get(f"{self.base}/api/incidents", timeout=10).json()
            return any(r["id"] == inc and r["state"] == "acknowledged" for r in rows)

        wait_for("GET /api/incidents to show the acknowledgement", api_shows, 60, self.proc)
        in_api = time.time()
        wait_for(
            "`tocsin incidents` to show the acknowledgement",
            lambda: self.incident(inc)["state"] == "acknowledged",
            60,
            self.proc,
        )
        visible = time.time()
        # The fake gives the posted message its channel and ts; chat.update names both.
        channel, ts = self._posted_ref(posted)
        updated = wait_for("chat.update", lambda: self.slack_update(channel, ts), 60, self.proc)
        return {
            "open_cli": opened - started,
            "first_page": first - started,
            "first_page_after_commit": first - opened,
            "all_three": last - started,
            "ack_http": answered - pressed,
            "ack_api": in_api - pressed,
            "ack_visible": visible - pressed,
            "slack_updated": updated - pressed,
        }

    def _posted_ref(self, posted: dict[str, Any]) -> tuple[str, str]:
        for (channel, ts), message in self.slack.messages.items():
            if message.get("metadata") == posted.get("metadata"):
                return channel, ts
        raise AssertionError("the posted message is not in the fake")

    def step_lateness(self, incs: list[int]) -> list[dict[str, float]]:
        """For each incident: its second step's due time (opened_at + 60 s) to the step firing
        (read from the timeline) and to Carol's SMS."""
        from sqlalchemy import select

        from worker.storage.db import make_engine, make_sessionmaker
        from worker.storage.models import Incident, IncidentEvent

        assert self.proc is not None
        out = []
        engine = make_engine(f"sqlite:///{self.tmp / 'data' / 'tocsin.db'}")
        sessions = make_sessionmaker(engine)
        try:
            for inc in incs:
                sms_at = wait_for(
                    "leadership's SMS",
                    lambda i=inc: self.sms_to(i, "+15550100002"),
                    180,
                    self.proc,
                )
                with sessions() as s:
                    row = s.get(Incident, inc)
                    assert row is not None
                    due = _utc(row.opened_at).timestamp() + 60
                    fired = [
                        _utc(e.at).timestamp()
                        for e in s.scalars(
                            select(IncidentEvent).where(
                                IncidentEvent.incident_id == inc,
                                IncidentEvent.kind == "step_fired",
                            )
                        )
                        if e.detail.get("step") == 1
                    ]
                out.append({"step_fired": fired[0] - due, "step_sms": sms_at - due})
        finally:
            engine.dispose()
        return out


def _utc(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)


def summary(values: list[float]) -> str:
    values = sorted(values)
    return f"{statistics.median(values):.2f} | {values[-1]:.2f} | {values[0]:.2f}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--steps", type=int, default=3)
    args = p.parse_args()
    print(f"machine: {machine()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="tocsin-paging-") as tmp_name:
        bench = Bench(Path(tmp_name), args.rounds, args.steps)
        try:
            bench.start()
            bench.page_round("warmup")  # imports, first connections, the beat's first ticks
            step_incs = []
            results = []
            for i in range(args.rounds):
                if i < args.steps:
                    step_incs.append(bench.open(f"step{i}"))
                time.sleep((i * 1.7) % 5.0)
                results.append(bench.page_round(f"page{i}"))
                print(
                    f"round {i}: " + ", ".join(f"{k} {v:.2f}" for k, v in results[-1].items()),
                    flush=True,
                )
            steps = bench.step_lateness(step_incs)
        finally:
            bench.stop()
    print(f"\nload at the end: {load()}\n")
    print("| measure (seconds) | median | worst | best | target |")
    print("|---|---|---|---|---|")
    rows = [
        ("`tocsin incident open` (the command alone)", "open_cli", ""),
        ("open → first page at Slack/Twilio/PagerDuty", "first_page", "< 10"),
        ("incident committed → first page", "first_page_after_commit", ""),
        ("open → all three pages", "all_three", ""),
        ("Slack press → 200 (acknowledged)", "ack_http", ""),
        ("Slack press → shown by `GET /api/incidents`", "ack_api", ""),
        ("Slack press → shown by `tocsin incidents`", "ack_visible", "< 5"),
        ("Slack press → `chat.update` at Slack", "slack_updated", "< 5"),
    ]
    for label, key, target in rows:
        print(f"| {label} | {summary([r[key] for r in results])} | {target} |")
    if steps:
        print(
            f"| step due at +1 min → fired | {summary([s['step_fired'] for s in steps])} | ≤ 15 |"
        )
        print(
            f"| step due at +1 min → SMS at Twilio | {summary([s['step_sms'] for s in steps])} | ≤ 15 |"
        )
    for command, cpus in sorted(bench.cli_cpu.items()):
        print(f"| CPU time of `tocsin {command}` (≈ its wall time when idle) | {summary(cpus)} | |")
    print(f"\n{args.rounds} rounds, {len(steps)} steps")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
