"""The one table of jobs: what runs, how often, on which queue — live under Celery and in a replay.

Each row names a function `f(ctx, now, *args)` by its import path (`"alerts.tasks:dispatch"`),
so the table can list the alerts side's jobs without `worker` importing `alerts` (the functions
are resolved when first run, as Celery's `include` does). From this table:

- `worker/tasks.py` registers one Celery task per row (the row's name is the task name, its queue
  comes from the name's prefix, see `worker.celery_app.ROUTES`), and `worker.celery_app.configure`
  builds the beat schedule from the rows that have an interval (`every`) or a `cron`;
- `simulate()` drives the very same rows on a simulated clock for `tocsin replay`, `backtest` and
  `demo`: at each tick, every row that is due runs, and the follow-up tasks it sends run at once,
  in order, in the same process.

Rows without `every` or `cron` are follow-up tasks: another job sends them (`ctx.send`) after its
transaction has committed. Live, `ctx.send` is Celery's `send_task`; in a simulation it appends to
a queue that is drained before the next job runs. Either way the function receives the sender's
`now`, so time stays an argument from the beat (or the simulated clock) down to the last step.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from worker.config import Config
from worker.logs import bound

Send = Callable[[str, Sequence[Any], datetime], None]


@dataclass(frozen=True)
class Job:
    """One row of the table."""

    name: str
    #: "module:function"; the function is called as f(ctx, now, *args).
    run: str
    #: Beat interval; None for a follow-up task.
    every: timedelta | None = None
    #: Or a time in the team's zone: "09:00" (daily), "Mon 09:00" (weekly), "1 09:00" (monthly);
    #: a string starting with "config:" names a `Config` attribute (or method) path giving such a
    #: time (or None, which disables the job), e.g. "config:reports.weekly_at".
    cron: str | None = None

    @property
    def queue(self) -> str:
        from worker.celery_app import ROUTES

        prefix = self.name.split(".", 1)[0] + ".*"
        return str(ROUTES.get(prefix, {}).get("queue", "detect"))

    @cached_property
    def function(self) -> Callable[..., Any]:
        module, _, attr = self.run.partition(":")
        return getattr(importlib.import_module(module), attr)

    @cached_property
    def parameters(self) -> tuple[str, ...]:
        """The names of the function's arguments after (ctx, now)."""
        return tuple(inspect.signature(self.function).parameters)[2:]

    def cron_spec(self, config: Config) -> str | None:
        if self.cron is None or not self.cron.startswith("config:"):
            return self.cron
        value: Any = config
        for part in self.cron.removeprefix("config:").split("."):
            value = getattr(value, part, None)
        if callable(value):
            value = value()
        return value if isinstance(value, str) and value else None


#: The table. Order matters in a simulation (it is the order jobs run in within one tick):
#: listen, judge, respond, deliver, check, report.
JOBS: tuple[Job, ...] = (
    Job("sources.poll_due", "worker.tasks:poll_due", every=timedelta(seconds=15)),
    Job("sources.poll", "worker.tasks:poll"),
    Job("ingest.page", "worker.tasks:ingest_page"),
    Job("ingest.push", "worker.tasks:ingest_push"),
    Job("detect.evaluate_due", "worker.tasks:evaluate_due", every=timedelta(seconds=60)),
    Job("detect.evaluate", "worker.tasks:evaluate"),
    Job("alerts.observe", "alerts.tasks:observe"),
    # Every 2 s: a page is handed to the vendor within 10 s of an incident opening, and a Slack
    # page shows an acknowledgement within 5 s (issue 13, measured by bench/paging_latency.py;
    # at 5 s each, the two waits alone could add up to over 10 s). Both cost one indexed query
    # when there is nothing to do.
    Job("alerts.escalation.tick", "alerts.tasks:escalation_tick", every=timedelta(seconds=2)),
    Job("notify.dispatch", "alerts.tasks:dispatch", every=timedelta(seconds=2)),
    Job("alerts.auditor", "alerts.tasks:auditor", every=timedelta(minutes=5)),
    Job("alerts.deadman", "alerts.tasks:deadman", every=timedelta(seconds=60)),
    Job("alerts.packets.refresh", "alerts.tasks:refresh_packets", every=timedelta(seconds=60)),
    Job("reports.weekly", "alerts.tasks:weekly_report", cron="config:reports.weekly_at"),
    Job("reports.monthly", "alerts.tasks:monthly_report", cron="config:reports.monthly_at"),
)
BY_NAME: Mapping[str, Job] = {j.name: j for j in JOBS}


@dataclass
class Context:
    """What a job function may use besides `now`: the database, the team config, a way to send
    follow-up tasks, and the settings the response side needs. Built by the shell (the Celery
    task wrapper, or the replay), never by a job."""

    sessions: sessionmaker[Session]
    config: Config
    send: Send
    base_url: str = "http://127.0.0.1:8025"
    secret_key: str = ""
    outbox_dir: Path = field(default_factory=lambda: Path(".tocsin/outbox"))
    #: Channel adapters by name; None: built from the config (live). A replay passes recorders.
    channels: Mapping[str, Any] | None = None
    #: Whether jobs may reach the network (a replay must not: sources are not polled).
    online: bool = True
    #: The wall clock, for leases within a long batch (live); None on a simulated clock.
    clock: Callable[[], datetime] | None = None
    #: Free-form extras a shell hands to its jobs (e.g. the replay's output directory).
    extra: dict[str, Any] = field(default_factory=dict)


#: Arguments worth carrying on every log line of a job (ids and names, never text).
_LOGGED = ("source_id", "topic", "signal_ids", "incident_id", "notification_id")


def run(name: str, ctx: Context, now: datetime, *args: Any) -> Any:
    """Run one job or follow-up task by name (what a Celery task body and `simulate` both do).

    The job's name and the ids among its arguments are bound to the log context for its run."""
    job = BY_NAME[name]
    ids = {k: v for k, v in zip(job.parameters, args, strict=False) if k in _LOGGED}
    with bound(job=name, **ids):
        return job.function(ctx, now, *args)


# --- times of day in the team's zone --------------------------------------------------------

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CRON = re.compile(r"^(?:(?P<dow>[A-Za-z]{3})\s+|(?P<dom>\d{1,2})\s+)?(?P<h>\d{1,2}):(?P<m>\d{2})$")


def parse_cron(spec: str) -> tuple[str, int | None, int, int]:
    """("daily"|"weekly"|"monthly", weekday 0-6 or day of month or None, hour, minute).

    Raises ValueError with the accepted forms on anything else."""
    match = _CRON.match(spec.strip())
    if not match:
        raise ValueError(
            f"not a time: {spec!r} (use 'HH:MM', 'Mon HH:MM' or a day of month 'D HH:MM')"
        )
    h, m = int(match["h"]), int(match["m"])
    if not (0 <= h < 24 and 0 <= m < 60):
        raise ValueError(f"not a time of day: {spec!r}")
    if match["dow"]:
        day = match["dow"].lower()
        if day not in _DAYS:
            raise ValueError(f"unknown day {match['dow']!r} in {spec!r} (Mon..Sun)")
        return "weekly", _DAYS.index(day), h, m
    if match["dom"]:
        dom = int(match["dom"])
        if not 1 <= dom <= 28:
            raise ValueError(f"day of month must be 1-28 (every month has it), got {dom}")
        return "monthly", dom, h, m
    return "daily", None, h, m


def next_fire(spec: str, after: datetime, tz: str) -> datetime:
    """The first instant strictly after `after` at which `spec` fires, in the zone `tz`.

    Local wall-clock times: "Mon 09:00" fires at 09:00 Paris time in winter and in summer alike.
    A local time that does not exist on a daylight-saving day fires at the same wall-clock time
    shifted by the gap (as zoneinfo resolves it); one that exists twice fires once (the first).
    """
    kind, arg, h, m = parse_cron(spec)
    zone = ZoneInfo(tz)
    local = after.astimezone(zone)
    day = local.date()
    for k in range(0, 400):
        d = day + timedelta(days=k)
        if kind == "weekly" and d.weekday() != arg:
            continue
        if kind == "monthly" and d.day != arg:
            continue
        candidate = datetime(d.year, d.month, d.day, h, m, tzinfo=zone)
        if candidate > local:
            return candidate.astimezone(after.tzinfo)
    raise AssertionError(f"no firing of {spec!r} within 400 days")  # pragma: no cover


def is_due(job: Job, config: Config, last: datetime | None, now: datetime) -> bool:
    """Whether `job` should run at `now`, having last run at `last` (None: never)."""
    if job.every is not None:
        return last is None or now - last >= job.every
    spec = job.cron_spec(config)
    if spec is None:
        return False
    if last is None:
        return False  # a cron job waits for its first time after the clock starts
    return next_fire(spec, last, config.timezone) <= now


# --- the simulated clock --------------------------------------------------------------------


class Executor(Protocol):
    """Where a simulation's jobs run: `send` queues (or publishes) a job, `drain` runs what is
    queued, follow-ups included, before the simulation moves on."""

    def send(self, name: str, args: Sequence[Any], now: datetime) -> None: ...

    def drain(self) -> None: ...


class InlineQueue:
    """`ctx.send` for a simulation in one process: jobs and their follow-up tasks queue here and
    run, in order, when the queue is drained. Set `ctx` once the context (which sends here) exists."""

    def __init__(self) -> None:
        self._queue: deque[tuple[str, tuple[Any, ...], datetime]] = deque()
        self.ctx: Context | None = None
        self.sent: dict[str, int] = {}

    def send(self, name: str, args: Sequence[Any], now: datetime) -> None:
        if name not in BY_NAME:
            raise KeyError(f"no job or task named {name!r} in worker/jobs.py")
        self._queue.append((name, tuple(args), now))
        self.sent[name] = self.sent.get(name, 0) + 1

    def drain(self) -> None:
        assert self.ctx is not None, "InlineQueue.ctx must be set before it runs jobs"
        while self._queue:
            name, args, now = self._queue.popleft()
            run(name, self.ctx, now, *args)


def simulate(
    config: Config,
    executor: Executor,
    ticks: Iterable[datetime],
    *,
    before_tick: Callable[[datetime], None] | None = None,
    after_tick: Callable[[datetime], None] | None = None,
    jobs: Sequence[Job] = JOBS,
) -> dict[str, int]:
    """Run the table on a simulated clock; return how many times each scheduled job ran.

    At each tick: `before_tick(now)` (a replay feeds the mentions that are now in the past, by
    sending `ingest.push`), then every scheduled row that is due, in table order, each sent to the
    executor and drained (so its follow-up tasks run) before the next one. A cron row's first
    time is the first one after the clock starts.
    """
    last: dict[str, datetime] = {}
    runs: dict[str, int] = {}
    started = False
    for now in ticks:
        if not started:
            started = True
            last.update({job.name: now for job in jobs if job.cron is not None})
        if before_tick is not None:
            before_tick(now)
        executor.drain()
        for job in jobs:
            if job.every is None and job.cron is None:
                continue
            if not is_due(job, config, last.get(job.name), now):
                continue
            executor.send(job.name, [], now)
            executor.drain()
            last[job.name] = now
            runs[job.name] = runs.get(job.name, 0) + 1
        if after_tick is not None:
            after_tick(now)
    return runs
