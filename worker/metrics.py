"""Prometheus metrics, read from the database at scrape time.

Worker, beat and web are separate processes (often on separate hosts); counters kept in one
process's memory would show only that process. Everything here is therefore a query over the
rows the pipeline already writes — sources, source_polls, incidents, notifications, delivery
attempts, heartbeats — run when Prometheus scrapes `/metrics`. Each scrape costs a handful of
grouped counts.

| metric | type | labels |
|---|---|---|
| tocsin_source_mentions_ingested_total | counter | source, topic, platform |
| tocsin_source_polls_total | counter | topic, platform, health |
| tocsin_source_healthy | gauge | source, topic, platform |
| tocsin_evaluation_duration_seconds | gauge (last run) | topic |
| tocsin_evaluation_age_seconds | gauge | topic |
| tocsin_open_incidents | gauge | severity, state |
| tocsin_notification_deliveries_total | counter | channel, outcome (ok, failed) |
| tocsin_notifications | gauge | channel, status |
| tocsin_outbox_oldest_due_age_seconds | gauge | |
| tocsin_escalation_tick_lag_seconds | gauge | |
| tocsin_job_last_run_age_seconds / tocsin_job_runs_total | gauge / counter | job |
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from worker.heartbeat import ESCALATION_TICK, EVALUATE, heartbeats
from worker.storage.models import DeliveryAttempt, Incident, Notification, PollRow, Source


class DatabaseCollector(Collector):
    """Collects every tocsin metric from the database (see the module docstring)."""

    def __init__(
        self, sessions_of: Callable[[], sessionmaker[Session]], clock: Callable[[], datetime]
    ) -> None:
        self.sessions_of = sessions_of
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        now = self.clock()
        with self.sessions_of()() as session:
            yield from self._sources(session)
            yield from self._jobs(session, now)
            yield from self._incidents(session, now)
            yield from self._outbox(session, now)

    def _sources(self, session: Session) -> Iterator[Metric]:
        ingested = CounterMetricFamily(
            "tocsin_source_mentions_ingested",
            "Mentions stored from each source",
            labels=["source", "topic", "platform"],
        )
        healthy = GaugeMetricFamily(
            "tocsin_source_healthy",
            "1 if the source answers",
            labels=["source", "topic", "platform"],
        )
        for s in session.scalars(select(Source).where(Source.enabled.is_(True))):
            labels = [str(s.id), s.topic, s.platform]
            ingested.add_metric(labels, s.mentions_total or 0)
            healthy.add_metric(labels, 1 if s.healthy else 0)
        polls = CounterMetricFamily(
            "tocsin_source_polls", "Polls by outcome", labels=["topic", "platform", "health"]
        )
        q = select(PollRow.topic, PollRow.platform, PollRow.health, func.count()).group_by(
            PollRow.topic, PollRow.platform, PollRow.health
        )
        for topic, platform, health, n in session.execute(q):
            polls.add_metric([topic, platform, health], n)
        yield from (ingested, healthy, polls)

    def _jobs(self, session: Session, now: datetime) -> Iterator[Metric]:
        duration = GaugeMetricFamily(
            "tocsin_evaluation_duration_seconds",
            "Duration of the last evaluation of each topic",
            labels=["topic"],
        )
        age = GaugeMetricFamily(
            "tocsin_evaluation_age_seconds",
            "Seconds since each topic was last evaluated",
            labels=["topic"],
        )
        job_age = GaugeMetricFamily(
            "tocsin_job_last_run_age_seconds",
            "Seconds since each periodic job last ran",
            labels=["job"],
        )
        runs = CounterMetricFamily("tocsin_job_runs", "Runs of each periodic job", labels=["job"])
        for name, beat in sorted(heartbeats(session).items()):
            job, _, key = name.partition(":")
            if job == EVALUATE and key:
                if beat.seconds is not None:
                    duration.add_metric([key], beat.seconds)
                age.add_metric([key], (now - beat.at).total_seconds())
            job_age.add_metric([name], (now - beat.at).total_seconds())
            runs.add_metric([name], beat.runs or 0)
        yield from (duration, age, job_age, runs)

    def _incidents(self, session: Session, now: datetime) -> Iterator[Metric]:
        open_ = GaugeMetricFamily(
            "tocsin_open_incidents", "Incidents not resolved", labels=["severity", "state"]
        )
        q = (
            select(Incident.severity, Incident.state, func.count())
            .where(Incident.state != "resolved")
            .group_by(Incident.severity, Incident.state)
        )
        for severity, state, n in session.execute(q):
            open_.add_metric([f"SEV{severity}", state], n)
        lag = GaugeMetricFamily(
            "tocsin_escalation_tick_lag_seconds",
            "How late the most overdue escalation step is (0 when none is overdue); "
            "or, with no step due, seconds since the escalation tick last ran",
        )
        overdue = session.scalar(
            select(func.min(Incident.next_due_at)).where(
                Incident.state == "triggered", Incident.next_due_at <= now
            )
        )
        tick = heartbeats(session).get(ESCALATION_TICK)
        value = (now - overdue).total_seconds() if overdue else 0.0
        if tick is not None:
            value = max(value, (now - tick.at).total_seconds())
        lag.add_metric([], value)
        yield from (open_, lag)

    def _outbox(self, session: Session, now: datetime) -> Iterator[Metric]:
        deliveries = CounterMetricFamily(
            "tocsin_notification_deliveries",
            "Delivery attempts by channel and outcome",
            labels=["channel", "outcome"],
        )
        q = select(DeliveryAttempt.channel, DeliveryAttempt.ok, func.count()).group_by(
            DeliveryAttempt.channel, DeliveryAttempt.ok
        )
        for channel, ok, n in session.execute(q):
            deliveries.add_metric([channel, "ok" if ok else "failed"], n)
        by_status = GaugeMetricFamily(
            "tocsin_notifications",
            "Notifications by channel and status",
            labels=["channel", "status"],
        )
        q2 = select(Notification.channel, Notification.status, func.count()).group_by(
            Notification.channel, Notification.status
        )
        for channel, status, n in session.execute(q2):
            by_status.add_metric([channel, status], n)
        oldest = session.scalar(
            select(func.min(Notification.next_attempt_at)).where(
                Notification.status.in_(("pending", "sending")), Notification.next_attempt_at <= now
            )
        )
        age = GaugeMetricFamily(
            "tocsin_outbox_oldest_due_age_seconds",
            "Seconds the oldest due, undelivered notification has waited (0 when none)",
        )
        age.add_metric([], (now - oldest).total_seconds() if oldest else 0.0)
        yield from (deliveries, by_status, age)


def registry_for(
    sessions_of: Callable[[], sessionmaker[Session]], clock: Callable[[], datetime]
) -> CollectorRegistry:
    """A registry holding only the database collector (no process metrics of the web worker)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(sessions_of, clock))
    return registry
