"""On call: per schedule, who is on call now (until when) and who is next, the shifts of the
next two weeks (overrides applied, `alerts.schedules.shifts`), and each person's quiet hours."""

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from alerts.dashboard.common import Deps, Principal, Role, render, when
from alerts.schedules import shifts
from worker.config import Config

AHEAD = timedelta(days=14)


def oncall_view(config: Config, now: Any) -> list[dict[str, Any]]:
    out = []
    for name, sched in sorted(config.oncall.schedules.items()):
        upcoming = shifts(sched, now, now + AHEAD)

        def person(pid: str) -> str:
            p = config.people.get(pid)
            return f"{p.name} ({pid})" if p else pid

        out.append(
            {
                "name": name,
                "timezone": sched.timezone,
                "now": person(upcoming[0].who),
                "until": when(upcoming[0].end, sched.timezone),
                "next": person(upcoming[1].who) if len(upcoming) > 1 else "",
                "shifts": [
                    {
                        "who": person(s.who),
                        "start": when(s.start, sched.timezone),
                        "end": when(s.end, sched.timezone),
                    }
                    for s in upcoming
                ],
                "members": [person(m) for m in sched.members],
            }
        )
    return out


def router(deps: Deps) -> APIRouter:
    r = APIRouter()

    @r.get("/oncall", response_class=HTMLResponse)
    def oncall(
        request: Request, who: Annotated[Principal, Depends(deps.auth.page(Role.viewer))]
    ) -> HTMLResponse:
        rt, now = deps.rt_of(), deps.now_of()
        config = rt.config
        quiet = []
        for pid, a in sorted(config.oncall.availability.items()):
            if a.quiet is not None:
                quiet.append(
                    {
                        "who": config.people[pid].name if pid in config.people else pid,
                        "hours": f"{a.quiet.start:%H:%M}–{a.quiet.end:%H:%M} {a.timezone}",
                        "bypass": f"SEV{a.bypass}",
                    }
                )
        return render(
            request,
            deps,
            who,
            "dash_oncall.html",
            title="On call",
            schedules=oncall_view(config, now),
            quiet=quiet,
            groups=sorted((g, ", ".join(m)) for g, m in config.groups.items()),
        )

    return r


__all__ = ["oncall_view", "router"]
