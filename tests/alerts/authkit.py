"""Shared helpers of the account tests: a runtime on a given database, an app with a few test
routes behind each role, and logging in through the real form."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient

from alerts.auth import Principal, Role, create_user
from alerts.auth.web import read_form
from alerts.web import create_app
from tests.alerts.scenario import CONFIG, SECRET, T0, Clock
from worker.config import parse_config
from worker.runtime import Runtime
from worker.settings import Settings
from worker.storage.db import make_engine, make_sessionmaker

LOCAL = ("127.0.0.1", 40000)
REMOTE = ("203.0.113.9", 40000)
PASSWORD = "correct horse battery"


def runtime_on(url: str, tmp_path: Path, base_url: str = "http://testserver") -> Runtime:
    engine = make_engine(url)
    settings = Settings(
        data_dir=tmp_path,
        database_url=url,
        broker_url="memory://",
        secret_key=SECRET,
        base_url=base_url,
        config_path=tmp_path / "none.toml",
        sentry_dsn=None,
        web_host="127.0.0.1",
        web_port=0,
    )
    return Runtime(settings, parse_config(CONFIG), engine, make_sessionmaker(engine), tmp_path)


def app_with_test_routes(rt: Runtime, clock: Clock) -> FastAPI:
    """The real app plus a page and API routes per role (what `dash` and `api` will add)."""
    app = create_app(lambda: rt, clock=clock)
    auth = app.state.auth

    @app.get("/test/page")
    def page(who: Principal = Depends(auth.page())) -> dict[str, str]:  # noqa: B008
        return {"name": who.name, "role": who.role.name, "via": who.via}

    @app.get("/test/csrf")
    def csrf(
        request: Request,
        who: Principal = Depends(auth.page()),  # noqa: B008
    ) -> dict[str, str]:
        return {"csrf": auth.csrf_token(request)}

    @app.post("/test/act")
    def act(who: Principal = Depends(auth.page(Role.responder))) -> dict[str, str]:  # noqa: B008
        return {"done_by": who.name}

    @app.post("/test/note")
    async def note(
        request: Request,
        who: Principal = Depends(auth.page(Role.responder)),  # noqa: B008
    ) -> dict[str, str]:
        form = await read_form(request)  # the dependency read the body first: still there
        return {"by": who.name, "note": form.get("note", "")}

    @app.get("/api/v1/test/read")
    def api_read(who: Principal = Depends(auth.api())) -> dict[str, str]:  # noqa: B008
        return {"name": who.name, "via": who.via}

    @app.post("/api/v1/test/act")
    def api_act(who: Principal = Depends(auth.api(Role.responder))) -> dict[str, str]:  # noqa: B008
        return {"done_by": who.name}

    @app.post("/api/v1/test/admin")
    def api_admin(who: Principal = Depends(auth.api(Role.admin))) -> dict[str, str]:  # noqa: B008
        return {"done_by": who.name}

    return app


def client(
    app: FastAPI, peer: tuple[str, int] = REMOTE, base: str = "http://testserver"
) -> TestClient:
    return TestClient(app, base_url=base, client=peer, follow_redirects=False)


def add_user(
    rt: Runtime, name: str, role: Role, now: datetime = T0, password: str | None = PASSWORD
) -> str:
    with rt.sessions.begin() as s:
        return create_user(s, name, role, now, password=password)


def form_token(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]*)"', html)
    assert m, "no csrf_token field in the form"
    return m.group(1)


def login(c: TestClient, name: str, password: str = PASSWORD, next: str = "/") -> object:
    token = form_token(c.get("/login").text)
    return c.post(
        "/login",
        data={"name": name, "password": password, "csrf_token": token, "next": next},
    )
