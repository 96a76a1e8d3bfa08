"""Fault injection on the production shape (real Redis, real PostgreSQL, real Celery worker and
beat processes, an RSS server and a webhook receiver on loopback).

Each test breaks one thing on purpose — kill -9 the worker during ingest and during delivery,
the broker disappearing and coming back, database connections killed mid-transaction, two beats —
and then asserts what must hold: no mention lost, counts exact, each escalation step notifies each
recipient once (or, after a crash during delivery, at most twice with the same notification).
Every wait is bounded; processes are killed in `finally`. Marked `faults` and `e2e`.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from tests.fakes.recorder import Recorder
from tests.fakes.rss_server import RSSServer, rss_feed
from worker.config import Config, parse_config
from worker.model import Evidence, Signal
from worker.pipeline import store_signals, sync_sources
from worker.storage.db import make_engine, make_sessionmaker
from worker.storage.models import BucketRow, MentionRow, Notification, Source

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

QUEUES = "poll,ingest,detect,alerts,notify,reports"
#: The worker's log line when it takes an ingest task (its banner lists task names too).
# The poll task stores each page it fetches in the same task (worker/sources/poll.py): its
# receipt marks the ingest under way.
INGEST_RECEIVED = re.compile(r"Task sources\.poll\[[^\]]+\] received")


def wait_for(
    predicate: Callable[[], Any],
    timeout: float,
    what: str,
    *,
    every: tuple[float, Callable[[], Any]] | None = None,
) -> Any:
    """Poll `predicate` until true; `every=(seconds, action)` repeats an action meanwhile (a poll
    sent again, as beat would)."""
    deadline = time.monotonic() + timeout
    last = time.monotonic()
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if every and time.monotonic() - last >= every[0]:
            every[1]()
            last = time.monotonic()
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TcpProxy:
    """A loopback TCP proxy to Redis that can be cut (every connection dropped, nothing listening)
    and brought back on the same port: the broker disappearing without touching the shared server."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> TcpProxy:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        if self._listener:
            self._listener.close()
            self._listener = None
        with self._lock:
            conns, self._conns = self._conns, []
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            c.close()


class Stack:
    """The processes and services of one test, and what the test reads back."""

    def __init__(
        self, tmp: Path, db_url: str, broker_url: str, feed_url: str, hook_url: str
    ) -> None:
        self.tmp = tmp
        self.db_url = db_url
        self.broker_url = broker_url
        config_path = tmp / "tocsin.toml"
        config_path.write_text(
            f"""
[[topics]]
name = "acme"
poll_seconds = 3600
[topics.queries]
rss = ["{feed_url}"]

[people.alice]
name = "Alice"
[people.carol]
name = "Carol"

[groups]
oncall = ["alice"]
leadership = ["carol"]

[channels.hook]
type = "webhook"
url = "{hook_url}"

[policies.default]
steps = [
  {{ after_minutes = 0, notify = ["oncall"], channels = ["hook"] }},
  {{ after_minutes = 0.05, notify = ["leadership"], channels = ["hook"] }},
]
severe_at = 0
""",
            encoding="utf-8",
        )
        self.config: Config = parse_config(config_path.read_text(encoding="utf-8"))
        self.env = {
            **os.environ,
            "TOCSIN_DATABASE_URL": db_url,
            "TOCSIN_BROKER_URL": broker_url,
            "TOCSIN_DATA_DIR": str(tmp / "data"),
            "TOCSIN_CONFIG": str(config_path),
            "TOCSIN_SECRET_KEY": "faults-secret-key-0123456789",
            "TOCSIN_BEAT_SECONDS": "1",
        }
        self.engine = make_engine(db_url)
        self.sessions: sessionmaker[Session] = make_sessionmaker(self.engine)
        self.procs: list[subprocess.Popen[str]] = []
        self.sender = Celery(broker=broker_url)
        self.sender.conf.update(task_serializer="json", broker_connection_retry=True)

    def start(self, *args: str, name: str) -> subprocess.Popen[str]:
        log = (self.tmp / f"{name}.log").open("w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "worker.celery_worker", *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def worker(self, name: str = "worker") -> subprocess.Popen[str]:
        return self.start(
            "worker",
            "-Q",
            QUEUES,
            "--concurrency",
            "1",
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            f"{name}@%h",
            name=name,
        )

    def beat(self, name: str = "beat") -> subprocess.Popen[str]:
        return self.start(
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            str(self.tmp / f"{name}-schedule"),
            name=name,
        )

    def log(self, name: str) -> str:
        path = self.tmp / f"{name}.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    @staticmethod
    def kill9(proc: subprocess.Popen[str]) -> None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
        self.engine.dispose()

    # --- what the tests read -------------------------------------------------------------

    def source_id(self) -> int:
        with self.sessions.begin() as s:
            sync_sources(s, self.config)
            return s.scalars(select(Source.id)).one()

    def poll(self, source_id: int) -> None:
        self.sender.send_task("sources.poll", args=[source_id], queue="poll")

    def mentions(self) -> int:
        with self.sessions() as s:
            return s.scalar(select(func.count()).select_from(MentionRow)) or 0

    def counts_exact(self, n: int) -> None:
        """n mentions, each once, and the buckets add up to them."""
        with self.sessions() as s:
            ids = s.scalars(select(MentionRow.external_id)).all()
            bucketed = s.scalar(select(func.coalesce(func.sum(BucketRow.count), 0)))
        assert len(ids) == n and len(set(ids)) == n
        assert bucketed == n

    def open_incident(self, now: datetime) -> int:
        from alerts.service import observe

        with self.sessions.begin() as s:
            ev = Evidence(now - timedelta(minutes=5), now, 30, 3, 1, 6, 1e-9)
            sig = Signal("acme", "volume_spike", now, 0.99, 3, "Spike of mentions", ev)
            (inc_id,) = observe(s, self.config, store_signals(s, [sig]), now)
        return int(inc_id)


def entries(n: int, start: int = 0) -> bytes:
    now = datetime.now(UTC)
    return rss_feed(
        [
            {
                "title": f"Acme story {i}",
                "link": f"https://news.example/{i}",
                "guid": f"g{i}",
                "pubDate": now - timedelta(seconds=i),
                "description": f"Acme body {i}",
                "author": f"reporter{i % 50}",
            }
            for i in range(start, start + n)
        ]
    )


@pytest.fixture
def services() -> Iterator[tuple[RSSServer, Recorder]]:
    rss, hook = RSSServer().start(), Recorder().start()
    yield rss, hook
    rss.stop()
    hook.stop()


@pytest.fixture
def stack(
    tmp_path: Path, pg_database_factory: Any, redis_url: str, services: tuple[RSSServer, Recorder]
) -> Iterator[Stack]:
    rss, hook = services
    st = Stack(tmp_path, pg_database_factory(), redis_url, rss.url("/feed"), hook.url("/hook"))
    yield st
    st.stop()


def deliveries(hook: Recorder) -> Counter[tuple[int, int, str]]:
    return Counter((b["incident_id"], b["step"], b["recipient"]) for b in hook.bodies("/hook"))


def test_kill_9_worker_during_ingest_loses_nothing(
    stack: Stack, services: tuple[RSSServer, Recorder]
) -> None:
    rss, _ = services
    n = 1500
    rss.set_feed("/feed", entries(n))
    sid = stack.source_id()
    worker = stack.worker()
    stack.poll(sid)
    wait_for(lambda: INGEST_RECEIVED.search(stack.log("worker")), 120, "ingest to start")
    stack.kill9(worker)
    assert stack.mentions() in (0, n)  # one transaction: all of the page or none of it
    stack.worker("worker2")
    stack.poll(sid)
    wait_for(
        lambda: stack.mentions() == n,
        180,
        f"{n} mentions after the restart",
        every=(15, lambda: stack.poll(sid)),
    )
    time.sleep(1)
    stack.counts_exact(n)


def test_killed_database_connections_mid_transaction_lose_nothing(
    stack: Stack, services: tuple[RSSServer, Recorder]
) -> None:
    rss, _ = services
    n = 1500
    rss.set_feed("/feed", entries(n))
    sid = stack.source_id()
    dbname = stack.engine.url.database
    with stack.engine.connect() as holder, stack.engine.connect() as watcher:
        # The ingest is fast, so a killer that races it can miss it. Instead the test holds a
        # write lock on `buckets`: the worker's ingest inserts the page's mentions, then waits
        # on the lock at its bucket recount, inside its one transaction, however busy the
        # machine is. Its connection is killed exactly there.
        holder.execute(text("LOCK TABLE buckets IN EXCLUSIVE MODE"))
        stack.worker()
        stack.poll(sid)

        def waiting() -> list[int]:
            pids = watcher.execute(
                text(
                    "SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE NOT l.granted AND l.relation = 'buckets'::regclass "
                    "AND a.datname = :db AND a.state = 'active'"
                ),
                {"db": dbname},
            ).scalars()
            out = list(pids)
            watcher.commit()  # a new snapshot of pg_stat_activity next time
            return out

        blocked = wait_for(waiting, 120, "the worker's ingest to wait on the buckets lock")
        # Mid-transaction: its mentions are written but not committed, so nobody sees them.
        assert stack.mentions() == 0
        killed = watcher.execute(
            text(
                "SELECT count(*) FROM unnest(CAST(:pids AS int[])) p WHERE pg_terminate_backend(p)"
            ),
            {"pids": blocked},
        ).scalar_one()
        watcher.commit()
        holder.rollback()  # the lock goes; the retried or re-polled ingest can finish
    assert killed >= 1, "the worker's connection was there to kill"
    assert stack.mentions() == 0  # the killed transaction left nothing behind
    stack.poll(sid)
    wait_for(
        lambda: stack.mentions() == n,
        180,
        f"{n} mentions after the connection died",
        every=(15, lambda: stack.poll(sid)),
    )
    time.sleep(1)
    stack.counts_exact(n)


def test_broker_that_disappears_and_comes_back(
    stack: Stack, services: tuple[RSSServer, Recorder], redis_url: str
) -> None:
    rss, _ = services
    redis_port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    proxy = TcpProxy(("127.0.0.1", redis_port)).start()
    db = redis_url.rsplit("/", 1)[1]
    via_proxy = f"redis://127.0.0.1:{proxy.port}/{db}"
    stack.env["TOCSIN_BROKER_URL"] = via_proxy
    stack.sender = Celery(broker=via_proxy)
    try:
        rss.set_feed("/feed", entries(100))
        sid = stack.source_id()
        stack.worker()
        stack.poll(sid)
        wait_for(lambda: stack.mentions() == 100, 120, "the first 100 mentions")
        proxy.cut()  # the broker is gone: every connection dropped, nothing listening
        rss.set_feed("/feed", entries(100, start=100))
        time.sleep(3)
        proxy.start()  # back on the same address
        stack.sender = Celery(broker=via_proxy)
        stack.poll(sid)
        wait_for(
            lambda: stack.mentions() == 200,
            180,
            "200 mentions after the broker came back",
            every=(15, lambda: stack.poll(sid)),
        )
        time.sleep(1)
        stack.counts_exact(200)
    finally:
        proxy.cut()


def test_kill_9_worker_during_delivery_pages_at_most_twice(
    stack: Stack, services: tuple[RSSServer, Recorder]
) -> None:
    from alerts.channels import build_channels
    from alerts.outbox import LEASE, dispatch_due

    _, hook = services
    hook.delay_next = 30.0  # the first page hangs: the worker is killed while it waits
    stack.beat()
    worker = stack.worker()
    inc = stack.open_incident(datetime.now(UTC))
    wait_for(lambda: hook.bodies("/hook"), 120, "the first page to reach the receiver")
    stack.kill9(worker)
    stack.worker("worker2")
    # Leadership (step 1, due 3 s after opening) is paged by the new worker, once.
    wait_for(lambda: deliveries(hook)[(inc, 1, "carol")] == 1, 120, "the leadership page")
    # The interrupted page is redelivered when its lease runs out (simulated clock).
    later = datetime.now(UTC) + LEASE + timedelta(seconds=5)
    dispatch_due(stack.sessions, build_channels(stack.config, stack.tmp / "outbox"), later)
    got = deliveries(hook)
    assert 1 <= got[(inc, 0, "alice")] <= 2
    assert got[(inc, 1, "carol")] == 1
    pages = [b for b in hook.bodies("/hook") if b["recipient"] == "alice"]
    assert all(p == pages[0] for p in pages)  # a redelivery is the same notification
    with stack.sessions() as s:
        statuses = Counter(s.scalars(select(Notification.status)).all())
    assert statuses == Counter({"sent": 2})


def test_two_beats_page_each_recipient_once(
    stack: Stack, services: tuple[RSSServer, Recorder]
) -> None:
    from worker.heartbeat import ESCALATION_TICK
    from worker.storage.models import Heartbeat

    _, hook = services
    stack.beat("beat1")
    stack.beat("beat2")
    stack.worker()
    inc = stack.open_incident(datetime.now(UTC))
    wait_for(lambda: deliveries(hook)[(inc, 1, "carol")] >= 1, 120, "both steps to be paged")

    def ticks() -> int:
        with stack.sessions() as s:
            return s.scalar(select(Heartbeat.runs).where(Heartbeat.name == ESCALATION_TICK)) or 0

    seen = ticks()
    wait_for(lambda: ticks() >= seen + 10, 120, "ten more escalation ticks")
    assert deliveries(hook) == Counter({(inc, 0, "alice"): 1, (inc, 1, "carol"): 1})
