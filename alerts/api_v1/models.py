"""The request and response bodies of `/api/v1` (pydantic), so the OpenAPI document is exact.

Times are ISO 8601 strings in UTC (`2026-11-06T14:15:00+00:00`). Text from mentions is given back
as stored: it is data, never markup (a client must escape it when it shows it).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

# ---- mentions ------------------------------------------------------------------------------


class Mention(BaseModel):
    id: int
    topic: str
    platform: str
    platform_id: str = Field(description="the mention's id on its platform")
    url: str | None
    author: str | None
    text: str
    lang: str = Field(description="en, fr or unknown")
    label: str = Field(description="neg, neu or pos")
    score: float = Field(description="polarity in [-1, 1]")
    reach: int = Field(description="the author's followers when stored (0 if unknown)")
    created_at: str


class MentionPage(BaseModel):
    items: list[Mention]
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null on the last page"
    )


# ---- topics --------------------------------------------------------------------------------


class OpenIncident(BaseModel):
    id: int
    severity: int
    state: str
    title: str
    opened_at: str


class Topic(BaseModel):
    name: str
    display_name: str
    last_hour: int = Field(description="mentions created in the last hour")
    negative_last_hour: int = Field(description="negative distinct texts in the last hour")
    negative_share: float | None = Field(description="negative / distinct texts, last hour")
    last_mention_at: str | None
    open_incident: OpenIncident | None


class SeriesPoint(BaseModel):
    start: str
    count: int
    negative: int
    positive: int
    texts: int
    reach: int


class TopicDetail(Topic):
    hours: int = Field(description="the span of `series`, in hours, ending now")
    series: list[SeriesPoint] = Field(description="hourly totals over every platform")
    platforms: dict[str, int] = Field(description="mentions per platform over the span")


# ---- incidents -----------------------------------------------------------------------------


class Incident(BaseModel):
    id: int
    topic: str
    title: str
    state: str = Field(description="triggered, acknowledged, snoozed or resolved")
    severity: int = Field(description="1 (worst) to 4")
    kinds: list[str]
    peak: float
    opened_at: str
    updated_at: str
    acknowledged_at: str | None
    acknowledged_by: str | None
    acknowledged_via: str | None
    resolved_at: str | None
    snoozed_until: str | None
    assigned_to: str | None
    reopened: int
    next_due_at: str | None
    explanations: list[str]


class TimelineEvent(BaseModel):
    at: str
    kind: str
    actor: str | None
    detail: dict[str, Any]


class Note(BaseModel):
    at: str
    by: str | None
    text: str


class Signal(BaseModel):
    id: int
    kind: str
    at: str
    severity: int
    explanation: str
    top_mentions: list[Any]
    evidence: dict[str, Any]


class SignalListed(Signal):
    topic: str
    score: float
    incident_id: int | None


class NotificationRow(BaseModel):
    id: int
    step: int
    recipient: str
    role: str
    channel: str
    status: str = Field(description="pending, sent, failed or cancelled")
    due_at: str | None
    sent_at: str | None


class PacketVersion(BaseModel):
    version: int
    generated_at: str


class IncidentDetail(Incident):
    timeline: list[TimelineEvent]
    notes: list[Note]
    problems: list[str]
    signals: list[Signal]
    notifications: list[NotificationRow]
    packet_versions: list[PacketVersion]


class IncidentList(BaseModel):
    items: list[Incident]


class SignalList(BaseModel):
    items: list[SignalListed]


# ---- actions -------------------------------------------------------------------------------


class OpenBody(BaseModel):
    topic: str = Field(min_length=1, max_length=100)
    severity: int = Field(ge=1, le=4)
    title: str = Field(min_length=1, max_length=300)


class Opened(BaseModel):
    id: int
    opened: bool = Field(description="false when the topic already had an open incident")


class SnoozeBody(BaseModel):
    minutes: float = Field(gt=0, le=7 * 24 * 60)


class NoteBody(BaseModel):
    text: str = Field(min_length=1, max_length=4000)


class ReassignBody(BaseModel):
    to: str = Field(min_length=1, max_length=200, description="a person id from tocsin.toml")


class ActionAnswer(BaseModel):
    result: str = Field(
        description="done, unchanged (nothing to do: the same action again) or, for acknowledge, "
        "acknowledged / already_acknowledged"
    )
    incident: Incident


# ---- on call, sources, reports -------------------------------------------------------------


class OnCallRow(BaseModel):
    schedule: str
    person_id: str
    person: str = Field(description="the person's name")
    until: str = Field(description="end of the shift, ISO UTC")
    until_local: str = Field(description="end of the shift in the schedule's zone, for people")
    next_person_id: str | None
    next_person: str | None


class OnCall(BaseModel):
    at: str
    schedules: list[OnCallRow]


class SourceRow(BaseModel):
    topic: str
    platform: str
    query: str
    health: str | None = Field(
        description="ok, rate_limited, auth_failed, unavailable, bad_response; null if not polled"
    )
    healthy: bool
    last_success: str | None
    next_poll: str | None
    budget_remaining: int | None
    budget_reset: str | None
    detail: str


class SourceList(BaseModel):
    items: list[SourceRow]


class Report(BaseModel):
    name: str = Field(description="e.g. weekly-2026-W45, monthly-2026-11")
    kind: str = Field(description="weekly, monthly or span")
    title: str
    summary: str
    sent_at: str = Field(description="when it was written to the outbox")
    recipients: int
    delivered: int = Field(description="notifications of it marked sent")


class ReportList(BaseModel):
    items: list[Report]


__all__ = [name for name in dir() if name[:1].isupper()]
