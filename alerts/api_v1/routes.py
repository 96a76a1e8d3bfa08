"""`/api/v1`: the stable JSON API (docs/api.md).

Who: every endpoint needs a principal from `alerts.auth` (session cookie, personal bearer token,
trusted proxy header, or the loopback "local" admin of a fresh install); reading needs `viewer`,
acting on incidents needs `responder`. Every action goes through `alerts.actions` with
`by=principal.name` and `via="api"`, so it is audited in the incident's timeline.

Errors are `application/problem+json` (`alerts.api_v1.problems`). The OpenAPI document of this
router alone is served at `/api/v1/openapi.json`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from alerts.actions import (
    AckResult,
    ActionResult,
    acknowledge,
    add_note,
    reassign,
    resolve_by_hand,
    snooze,
)
from alerts.api_incidents import in_transaction, oncall_rows
from alerts.api_v1 import models as m
from alerts.api_v1.problems import (
    PROBLEM,
    FallbackRoute,
    Problem,
    ProblemRoute,
    not_found_route,
)
from alerts.api_v1.reads import (
    hourly_series,
    list_reports,
    list_signals,
    topic_exists,
    topic_rows,
)
from alerts.auth import Auth, Principal, Role
from alerts.mention_list import MAX_LIMIT, MentionFilter, list_mentions
from alerts.opening import open_by_hand
from alerts.packets import list_versions
from alerts.queries import get_incident, list_incidents
from alerts.schedules import on_call_now, shifts
from worker.runtime import Runtime
from worker.sources.status import source_rows

PREFIX = "/api/v1"
VIA = "api"
VERSION = "1.0.0"

_PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "description": desc}
    for code, desc in (
        (400, "Bad request"),
        (401, "No principal: log in or send `Authorization: Bearer <token>`"),
        (403, "The principal's role is too low, or a cross-site request"),
        (404, "No such thing"),
        (409, "The incident is resolved: nothing to act on"),
        (415, "State changes must send Content-Type: application/json"),
        (422, "The request did not validate"),
        (500, "Internal error"),
    )
}

_ACTION_STATUS = {
    ActionResult.DONE: 200,
    ActionResult.UNCHANGED: 200,
    ActionResult.NOT_FOUND: 404,
    ActionResult.RESOLVED: 409,
    ActionResult.UNKNOWN_PERSON: 422,
    AckResult.ACKNOWLEDGED: 200,
    AckResult.ALREADY_ACKNOWLEDGED: 200,
    AckResult.NOT_FOUND: 404,
    AckResult.RESOLVED: 409,
}
_ACTION_DETAIL = {
    "not_found": "no such incident",
    "resolved": "the incident is resolved: nothing to act on",
    "unknown_person": "to: no such person in tocsin.toml",
}

Label = Literal["neg", "neu", "pos"]
State = Literal["triggered", "acknowledged", "snoozed", "resolved"]
#: An incident id: the column is a 32-bit integer on every database.
IncidentId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _time(value: str | None, name: str) -> datetime | None:
    """An ISO 8601 query time with its offset (`Z` accepted); 422 otherwise."""
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise HTTPException(422, f"{name}: not an ISO 8601 time: {value!r}") from None
    if at.tzinfo is None:
        raise HTTPException(422, f"{name}: give the UTC offset too, e.g. 2026-11-06T14:00:00Z")
    try:
        at.timestamp()
    except (OverflowError, ValueError):
        raise HTTPException(422, f"{name}: out of range: {value!r}") from None
    return at


def openapi_document(router: APIRouter) -> dict[str, Any]:
    """The OpenAPI document of the v1 routes, with every error declared as problem+json."""
    doc = get_openapi(
        title="tocsin API",
        version=VERSION,
        description="The stable JSON API of tocsin (docs/api.md). Errors are "
        "application/problem+json (RFC 9457).",
        routes=[r for r in router.routes if getattr(r, "include_in_schema", True)],
    )
    doc["components"] = doc.get("components", {})
    doc["components"]["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "description": "tocsin token create"},
        "session": {"type": "apiKey", "in": "cookie", "name": "tocsin_session"},
    }
    doc["security"] = [{"bearer": []}, {"session": []}]
    for path in doc.get("paths", {}).values():
        for op in path.values():
            for code, response in op.get("responses", {}).items():
                content = response.get("content", {})
                if code.isdigit() and int(code) >= 400 and "application/json" in content:
                    content[PROBLEM] = content.pop("application/json")
    return doc


def api_v1_router(
    rt_of: Callable[[], Runtime], now_of: Callable[[], datetime], auth: Auth
) -> APIRouter:
    router = APIRouter(prefix=PREFIX, route_class=ProblemRoute, responses=_PROBLEMS)
    viewer = Depends(auth.api(Role.viewer))
    responder = Depends(auth.api(Role.responder))

    def read(fn: Callable[[Session, Runtime], Any]) -> Any:
        rt = rt_of()
        with rt.sessions() as session:
            return fn(session, rt)

    # ---- topics -----------------------------------------------------------------------------

    @router.get("/topics", tags=["topics"])
    def topics(_: Principal = viewer) -> list[m.Topic]:
        """Every topic with its last hour, negative share and open incident."""
        now = now_of()
        rows = read(lambda s, rt: topic_rows(s, rt.config, now))
        return [m.Topic(**r) for r in rows]

    @router.get("/topics/{name}", tags=["topics"])
    def topic(
        name: str,
        hours: Annotated[int, Query(ge=1, le=24 * 30, description="span of the series")] = 24,
        _: Principal = viewer,
    ) -> m.TopicDetail:
        """One topic's state and its hourly series over the last `hours` hours."""
        now = now_of()

        def one(s: Session, rt: Runtime) -> m.TopicDetail:
            if not topic_exists(s, rt.config, name):
                raise HTTPException(404, "no such topic")
            row = topic_rows(s, rt.config, now, only=name)[0]
            series, platforms = hourly_series(s, name, now, hours)
            return m.TopicDetail(
                **row,
                hours=hours,
                series=[m.SeriesPoint(**p) for p in series],
                platforms=platforms,
            )

        result: m.TopicDetail = read(one)
        return result

    # ---- mentions ---------------------------------------------------------------------------

    @router.get("/mentions", tags=["mentions"])
    def mentions(
        topic: Annotated[str | None, Query(max_length=100)] = None,
        q: Annotated[
            str | None,
            Query(min_length=3, max_length=200, description="case-insensitive substring"),
        ] = None,
        platform: Annotated[str | None, Query(max_length=40)] = None,
        lang: Annotated[str | None, Query(max_length=16)] = None,
        label: Label | None = None,
        author: Annotated[str | None, Query(max_length=300)] = None,
        since: Annotated[str | None, Query(description="ISO time, inclusive")] = None,
        until: Annotated[str | None, Query(description="ISO time, exclusive")] = None,
        cursor: Annotated[str | None, Query(max_length=500)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
        _: Principal = viewer,
    ) -> m.MentionPage:
        """Mentions newest first, `limit` a page; follow `next_cursor` for the next page."""
        f = MentionFilter(
            topic=topic,
            q=q,
            platform=platform,
            lang=lang,
            label=label,
            author=author,
            since=_time(since, "since"),
            until=_time(until, "until"),
        )
        try:
            page = read(lambda s, rt: list_mentions(s, f, cursor=cursor, limit=limit))
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        return m.MentionPage(items=page.items, next_cursor=page.next_cursor)

    # ---- incidents --------------------------------------------------------------------------

    @router.get("/incidents", tags=["incidents"])
    def incidents(
        topic: Annotated[str | None, Query(max_length=100)] = None,
        state: State | None = None,
        open: Annotated[bool, Query(description="only incidents not resolved")] = False,
        severity: Annotated[
            int | None, Query(ge=1, le=4, description="at least this bad (1 is the worst)")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        _: Principal = viewer,
    ) -> m.IncidentList:
        """Incidents newest first."""
        rows = read(
            lambda s, rt: list_incidents(
                s, open_only=open, limit=limit, topic=topic, state=state, severity=severity
            )
        )
        return m.IncidentList(items=rows)

    def detail(s: Session, incident_id: int) -> dict[str, Any] | None:
        inc = get_incident(s, incident_id)
        if inc is not None:
            inc["packet_versions"] = list_versions(s, incident_id)
        return inc

    @router.get("/incidents/{incident_id}", tags=["incidents"])
    def incident(incident_id: IncidentId, _: Principal = viewer) -> m.IncidentDetail:
        """One incident with its timeline, signals, notifications and packet versions."""
        inc = read(lambda s, rt: detail(s, incident_id))
        if inc is None:
            raise HTTPException(404, "no such incident")
        return m.IncidentDetail(**inc)

    @router.post(
        "/incidents",
        tags=["incidents"],
        status_code=201,
        responses={200: {"model": m.Opened, "description": "the topic's open incident"}},
    )
    def open_incident(body: m.OpenBody, who: Principal = responder) -> JSONResponse:
        """Open an incident by hand (or get the topic's open one, made worse if need be)."""
        rt = rt_of()
        inc_id, opened = in_transaction(
            rt,
            lambda s: open_by_hand(
                s,
                rt.config,
                topic=body.topic,
                severity=body.severity,
                title=body.title,
                by=who.name,
                via=VIA,
                now=now_of(),
            ),
        )
        return JSONResponse(
            m.Opened(id=inc_id, opened=opened).model_dump(), status_code=201 if opened else 200
        )

    def act(incident_id: int, do: Callable[[Session, Runtime, datetime], str]) -> m.ActionAnswer:
        rt = rt_of()
        result = in_transaction(rt, lambda s: do(s, rt, now_of()))
        status = _ACTION_STATUS.get(result, 200)  # type: ignore[call-overload]
        if status != 200:
            raise HTTPException(status, _ACTION_DETAIL.get(str(result), str(result)))
        with rt.sessions() as session:
            inc = get_incident(session, incident_id)
        assert inc is not None
        return m.ActionAnswer(result=str(result), incident=m.Incident(**inc))

    @router.post("/incidents/{incident_id}/acknowledge", tags=["actions"])
    def api_acknowledge(incident_id: IncidentId, who: Principal = responder) -> m.ActionAnswer:
        """Acknowledge: stops the escalation. Twice answers `already_acknowledged`."""
        return act(
            incident_id,
            lambda s, rt, now: acknowledge(s, incident_id, by=who.name, via=VIA, now=now),
        )

    @router.post("/incidents/{incident_id}/snooze", tags=["actions"])
    def api_snooze(
        incident_id: IncidentId, body: m.SnoozeBody, who: Principal = responder
    ) -> m.ActionAnswer:
        """Pause the escalation for `minutes`; then it starts over."""
        return act(
            incident_id,
            lambda s, rt, now: snooze(
                s, incident_id, minutes=body.minutes, by=who.name, via=VIA, now=now
            ),
        )

    @router.post("/incidents/{incident_id}/resolve", tags=["actions"])
    def api_resolve(incident_id: IncidentId, who: Principal = responder) -> m.ActionAnswer:
        """Resolve by hand."""
        return act(
            incident_id,
            lambda s, rt, now: resolve_by_hand(s, incident_id, by=who.name, via=VIA, now=now),
        )

    @router.post("/incidents/{incident_id}/note", tags=["actions"])
    def api_note(
        incident_id: IncidentId, body: m.NoteBody, request: Request, who: Principal = responder
    ) -> m.ActionAnswer:
        """Add a note to the timeline. `Idempotency-Key` makes a retried note one note."""
        key = request.headers.get("idempotency-key")
        return act(
            incident_id,
            lambda s, rt, now: add_note(
                s, incident_id, text=body.text, by=who.name, via=VIA, now=now, key=key
            ),
        )

    @router.post("/incidents/{incident_id}/reassign", tags=["actions"])
    def api_reassign(
        incident_id: IncidentId, body: m.ReassignBody, who: Principal = responder
    ) -> m.ActionAnswer:
        """Hand the incident to a person: escalation starts over, paging them."""
        return act(
            incident_id,
            lambda s, rt, now: reassign(
                s, rt.config, incident_id, to=body.to, by=who.name, via=VIA, now=now
            ),
        )

    # ---- signals, on call, sources, reports -------------------------------------------------

    @router.get("/signals", tags=["signals"])
    def signals(
        topic: Annotated[str | None, Query(max_length=100)] = None,
        kind: Annotated[str | None, Query(max_length=40)] = None,
        incident_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
        since: Annotated[str | None, Query(description="ISO time, inclusive")] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        _: Principal = viewer,
    ) -> m.SignalList:
        """Signals newest first, with their evidence."""
        at = _time(since, "since")
        rows = read(
            lambda s, rt: list_signals(
                s, topic=topic, kind=kind, incident_id=incident_id, since=at, limit=limit
            )
        )
        return m.SignalList(items=rows)

    @router.get("/oncall", tags=["oncall"])
    def oncall(
        at: Annotated[str | None, Query(description="ISO time (default: now)")] = None,
        _: Principal = viewer,
    ) -> m.OnCall:
        """Who is on call now (or at `at`) per schedule, until when, and who is next."""
        when = _time(at, "at") or now_of()
        config = rt_of().config
        ids = on_call_now(config, when)
        rows = []
        for row in oncall_rows(config, when):
            sched = config.oncall.schedules[row["schedule"]]
            now_shift, *rest = shifts(sched, when, when + timedelta(days=366))
            nxt = next((s for s in rest if s.who != now_shift.who), None)
            person = config.people.get(nxt.who) if nxt else None
            rows.append(
                m.OnCallRow(
                    schedule=row["schedule"],
                    person_id=ids[row["schedule"]],
                    person=row["person"],
                    until=now_shift.end.isoformat(),
                    until_local=row["until"],
                    next_person_id=nxt.who if nxt else None,
                    next_person=(person.name if person else nxt.who) if nxt else None,
                )
            )
        return m.OnCall(at=when.isoformat(), schedules=rows)

    @router.get("/sources", tags=["sources"])
    def sources(_: Principal = viewer) -> m.SourceList:
        """Each source's health, last success, next poll and remaining budget."""
        return m.SourceList(items=read(lambda s, rt: source_rows(s, rt.config)))

    @router.get("/reports", tags=["reports"])
    def reports(
        limit: Annotated[int, Query(ge=1, le=500)] = 100, _: Principal = viewer
    ) -> m.ReportList:
        """The weekly, monthly and span reports sent, newest first."""
        return m.ReportList(items=read(lambda s, rt: list_reports(s, limit=limit)))

    # ---- the document, and everything else under /api/v1 ------------------------------------

    @router.get("/openapi.json", include_in_schema=False)
    def openapi() -> JSONResponse:
        return JSONResponse(openapi_document(router))

    router.add_api_route(
        "/{rest:path}",
        not_found_route(lambda: router.routes),
        methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        include_in_schema=False,
        route_class_override=FallbackRoute,
    )
    return router


__all__ = ["api_v1_router", "openapi_document"]
