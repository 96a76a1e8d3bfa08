"""Property-based fuzzing of `/api/v1` from its own OpenAPI document (schemathesis 4, in process
through ASGI, on SQLite with a little data): no 5xx, and every answer — errors included — has a
status, content type and body the document declares.

Bounded: a few examples per operation (`MAX_EXAMPLES`), no shrinking deadline, so the whole
file runs in well under a minute. Actions run as a responder (a viewer would only see 403s).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from alerts.api_v1 import api_v1_router, openapi_document
from alerts.auth import Auth
from alerts.web import create_app
from tests.alerts.scenario import Clock, open_incident
from tests.api.conftest import HOSTILE, accounts, make_rt, mentions, store
from worker.storage.db import upgrade

MAX_EXAMPLES = 12
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


_STATE: dict[str, Any] = {}
_APP = create_app(lambda: _STATE["rt"], clock=Clock())


async def _from_loopback(scope: Any, receive: Any, send: Any) -> None:
    # Calls come from 127.0.0.1 like any local tool (alerts/websecurity.py's rule).
    if scope["type"] in ("http", "websocket"):
        scope = {**scope, "client": ("127.0.0.1", 50000)}
    await _APP(scope, receive, send)


def _document() -> dict[str, Any]:
    """The document `/api/v1/openapi.json` serves (the runtime is not needed to build it)."""
    router = api_v1_router(lambda: _STATE["rt"], Clock(), Auth(lambda: None, Clock()))
    return openapi_document(router)


# schemathesis' lazy `from_fixture` does not work with pytest 9 (it reads a private node
# attribute), so the schema is loaded at import and the runtime is set by a fixture.
schema = schemathesis.openapi.from_dict(_document())
schema.app = _from_loopback


@pytest.fixture(scope="module")
def fuzz_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{tmp / 'tocsin.db'}"
    upgrade(url)
    rt = make_rt(url, tmp)
    open_incident(rt)
    store(rt, mentions(30, text=HOSTILE))
    _STATE["rt"] = rt
    _STATE["token"] = accounts(rt)["rory"]
    yield
    _STATE.pop("rt")
    rt.dispose()


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_v1_conforms_to_its_openapi_document(case: Any, fuzz_runtime: None) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {_STATE['token']}"},
        checks=CHECKS,
    )
