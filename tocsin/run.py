"""`tocsin run`: the worker (with its beat) and the web app in one command.

1. Load settings and config (a bad config fails here, before anything starts), migrate SQLite.
2. Start `celery worker -B` for every queue and, unless --no-web, the web app, as child processes
   sharing the environment (and so the same database and broker).
3. Wait. Ctrl-C (SIGINT) or SIGTERM stops the children — web first, then the worker, which finishes
   its current task (warm shutdown) — and waits for them, so nothing is left running.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from worker.celery_app import QUEUES
from worker.runtime import get_runtime


def _worker_argv(concurrency: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "worker.celery_worker",
        "worker",
        "-B",
        "-Q",
        ",".join(QUEUES),
        "--concurrency",
        str(concurrency),
        "--loglevel",
        "INFO",
        "--without-gossip",
        "--without-mingle",
        # Beat keeps its schedule state beside the database, not in the current directory.
        "--schedule",
        str(get_runtime().settings.data_dir / "celerybeat-schedule"),
    ]


def run(*, web: bool = True, concurrency: int = 2) -> int:
    from tocsin.live import ensure_database

    rt = get_runtime()
    ensure_database(rt)
    rt.settings.data_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    children: list[subprocess.Popen[bytes]] = [subprocess.Popen(_worker_argv(concurrency), env=env)]
    names = {children[0].pid: "worker"}
    if web:
        children.append(subprocess.Popen([sys.executable, "-m", "tocsin.cli", "web"], env=env))
        names[children[-1].pid] = "web"
    where = f", web on {rt.settings.base_url}" if web else ""
    print(
        f"tocsin running: {len(rt.config.topics)} topics, broker {rt.settings.broker_url.split(':')[0]}"
        f"{where}. Ctrl-C to stop.",
        flush=True,
    )

    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    code = 0
    try:
        while not stopping:
            for child in children:
                if child.poll() is not None:
                    print(
                        f"tocsin: {names[child.pid]} exited with {child.returncode}; stopping",
                        file=sys.stderr,
                    )
                    stopping, code = True, 1
            time.sleep(0.2)
    finally:
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        for child in reversed(children):
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    print("tocsin stopped.", flush=True)
    return code
