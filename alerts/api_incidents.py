"""The incident actions and on-call in the JSON API (an APIRouter included by `alerts.web`).

Same rule as the rest of `/api`: the caller passes `authorize(request)` (bearer token, or
loopback only), and the clock. Each action is audited with `via = "api"` and the `by` given
(default "api"); acting twice answers 200 with `"unchanged"` / `"already_acknowledged"`.

- `POST /api/incidents` `{topic, severity, title, by?}` → 201 `{"id", "opened"}` (200 and
  `"opened": false` when the topic already had an open incident)
- `POST /api/incidents/{id}/snooze` `{minutes, by?}` · `/resolve` `{by?}` · `/notes`
  `{text, by?}` (header `Idempotency-Key` makes a retried note one note) · `/reassign` `{to, by?}`
  → `{"result": ...}`; 404 no such incident, 409 resolved, 422 bad input or unknown person
- `GET /api/oncall[?at=ISO]` → `{"schedule": "person id", ...}`
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from alerts.actions import ActionResult, add_note, reassign, resolve_by_hand, snooze
from alerts.opening import open_by_hand
from alerts.schedules import on_call_now, shifts
from worker.config import Config
from worker.localtime import show
from worker.runtime import Runtime

VIA = "api"
STATUS = {
    ActionResult.DONE: 200,
    ActionResult.UNCHANGED: 200,
    ActionResult.NOT_FOUND: 404,
    ActionResult.RESOLVED: 409,
    ActionResult.UNKNOWN_PERSON: 422,
}


class OpenBody(BaseModel):
    topic: str = Field(min_length=1, max_length=100)
    severity: int = Field(ge=1, le=4)
    title: str = Field(min_length=1, max_length=300)
    by: str = Field(default="api", max_length=200)


class SnoozeBody(BaseModel):
    minutes: float = Field(gt=0)
    by: str = Field(default="api", max_length=200)


class ByBody(BaseModel):
    by: str = Field(default="api", max_length=200)


class NoteBody(BaseModel):
    text: str = Field(min_length=1, max_length=4000)
    by: str = Field(default="api", max_length=200)


class ReassignBody(BaseModel):
    to: str = Field(min_length=1, max_length=200)
    by: str = Field(default="api", max_length=200)


def oncall_rows(config: Config, now: datetime) -> list[dict[str, str]]:
    """Who is on call now and until when, for the dashboard (times in the schedule's zone)."""
    rows = []
    for name, pid in on_call_now(config, now).items():
        sched = config.oncall.schedules[name]
        until = shifts(sched, now, now + timedelta(days=366))[0].end
        person = config.people.get(pid)
        rows.append(
            {
                "schedule": name,
                "person": person.name if person else pid,
                "until": show(until, sched.timezone),
            }
        )
    return rows


T = TypeVar("T")


def in_transaction(rt: Runtime, do: Callable[[Session], T]) -> T:
    """`do(session)` in one transaction; a ValueError (input the action refuses, with why) is
    answered 422 with its message. Shared with `/api/v1`."""
    try:
        with rt.sessions.begin() as session:
            return do(session)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


def _answer(result: ActionResult) -> JSONResponse:
    return JSONResponse({"result": str(result)}, status_code=STATUS[result])


def incidents_router(
    rt_of: Callable[[], Runtime],
    now_of: Callable[[], datetime],
    authorize: Callable[[Request], None],
) -> APIRouter:
    router = APIRouter(prefix="/api")

    def act(request: Request, do: Callable[[Any, Runtime, datetime], ActionResult]) -> JSONResponse:
        authorize(request)
        rt = rt_of()
        return _answer(in_transaction(rt, lambda s: do(s, rt, now_of())))

    @router.post("/incidents")
    def open_incident(request: Request, body: OpenBody) -> JSONResponse:
        authorize(request)
        rt = rt_of()
        inc_id, opened = in_transaction(
            rt,
            lambda s: open_by_hand(
                s,
                rt.config,
                topic=body.topic,
                severity=body.severity,
                title=body.title,
                by=body.by,
                via=VIA,
                now=now_of(),
            ),
        )
        return JSONResponse({"id": inc_id, "opened": opened}, status_code=201 if opened else 200)

    @router.post("/incidents/{incident_id}/snooze")
    def api_snooze(request: Request, incident_id: int, body: SnoozeBody) -> JSONResponse:
        return act(
            request,
            lambda s, rt, now: snooze(
                s, incident_id, minutes=body.minutes, by=body.by, via=VIA, now=now
            ),
        )

    @router.post("/incidents/{incident_id}/resolve")
    def api_resolve(request: Request, incident_id: int, body: ByBody) -> JSONResponse:
        return act(
            request,
            lambda s, rt, now: resolve_by_hand(s, incident_id, by=body.by, via=VIA, now=now),
        )

    @router.post("/incidents/{incident_id}/notes")
    def api_note(request: Request, incident_id: int, body: NoteBody) -> JSONResponse:
        key = request.headers.get("idempotency-key")
        return act(
            request,
            lambda s, rt, now: add_note(
                s, incident_id, text=body.text, by=body.by, via=VIA, now=now, key=key
            ),
        )

    @router.post("/incidents/{incident_id}/reassign")
    def api_reassign(request: Request, incident_id: int, body: ReassignBody) -> JSONResponse:
        return act(
            request,
            lambda s, rt, now: reassign(
                s, rt.config, incident_id, to=body.to, by=body.by, via=VIA, now=now
            ),
        )

    @router.get("/oncall")
    def api_oncall(request: Request, at: str | None = None) -> JSONResponse:
        authorize(request)
        when = now_of()
        if at is not None:
            try:
                when = datetime.fromisoformat(at)
            except ValueError:
                raise HTTPException(422, f"at: not an ISO time: {at!r}") from None
            if when.tzinfo is None:
                raise HTTPException(422, "at: give the offset too, e.g. 2026-03-28T20:00+01:00")
        return JSONResponse(on_call_now(rt_of().config, when))

    return router


__all__ = ["incidents_router", "oncall_rows"]
