"""Error reporting: Sentry when a DSN is configured, nothing otherwise — and never mention text.

Mention text, author names and e-mail addresses are personal data of people who never agreed to
be in an error tracker, and acknowledgement tokens are credentials. Every event and transaction
passes through `scrub_event` before it leaves the process (`before_send`,
`before_send_transaction`, and breadcrumbs through `before_breadcrumb`):

1. Exception messages: a database error keeps its first line only (its `[SQL: …]` and
   `[parameters: …]` parts quote the row being written); in every message, quoted strings,
   e-mail addresses, URLs and long token-like strings are replaced by markers. Numbers stay, so
   ids and counts still say what happened ("source 3: stored 0 of 50").
2. Log messages and breadcrumbs: the message template is kept, not the formatted message, and
   logged values that are not numbers are replaced; `data` strings are scrubbed as above; SQL
   breadcrumbs lose their parameters.
3. Requests: the body, cookies and query string are dropped, the Authorization and Cookie
   headers removed, and `/ack/<token>` style paths keep their shape without the token.
4. Spans (transactions): SQL descriptions are scrubbed like messages and lose their parameters.
5. Local variables (stack frame `vars`) are dropped even if an integration added them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from worker.settings import load_settings

REDACTED = "[redacted]"

_PARAMS = re.compile(r"\s*\[(?:parameters|SQL):.*", re.DOTALL)
_BACKGROUND = re.compile(r"\s*\(Background on this error at:.*", re.DOTALL)
_QUOTED = re.compile(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|«[^»]*»|“[^”]*”""")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"\bhttps?://\S+")
# Signed tokens and keys: long runs of URL-safe characters with at least one digit (dotted
# module names such as psycopg.errors.StringDataRightTruncation have none, and stay).
_TOKEN = re.compile(r"(?<![\w.-])(?=[\w.-]*\d)[\w.-]{20,}")
_TOKEN_PATH = re.compile(r"/(ack|t|token|packet)/[^/?#\s]+")
_DB_MODULES = ("sqlalchemy", "psycopg", "sqlite3")
_SAFE_HEADERS = {"content-type", "content-length", "user-agent", "accept", "host", "x-request-id"}
MAX_MESSAGE = 500


def scrub_text(value: str) -> str:
    """A message without quoted values, e-mail addresses, URLs or tokens; numbers kept."""
    value = _BACKGROUND.sub("", _PARAMS.sub("", value))
    value = _QUOTED.sub(REDACTED, value)
    value = _EMAIL.sub("[email]", value)
    value = _URL.sub("[url]", value)
    value = _TOKEN.sub("[token]", value)
    return value[:MAX_MESSAGE]


def _scrub_value(value: Any) -> Any:
    """Numbers, booleans and None pass; strings are scrubbed; containers recursively."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, Mapping):
        return {str(k): _scrub_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub_value(v) for v in value]
    return REDACTED


def _scrub_exception(exc: dict[str, Any]) -> None:
    module = str(exc.get("module") or "")
    value = str(exc.get("value") or "")
    if module.startswith(_DB_MODULES) or "[SQL:" in value or "[parameters:" in value:
        value = (value.strip().splitlines() or [""])[0]
    exc["value"] = scrub_text(value)
    for frame in (exc.get("stacktrace") or {}).get("frames") or []:
        frame.pop("vars", None)


def _scrub_breadcrumb(crumb: dict[str, Any]) -> dict[str, Any]:
    if isinstance(crumb.get("message"), str):
        crumb["message"] = scrub_text(crumb["message"])
    data = crumb.get("data")
    if isinstance(data, dict):
        for key in ("params", "parameters", "db.params", "args"):
            data.pop(key, None)
        crumb["data"] = _scrub_value(data)
    return crumb


def _scrub_request(request: dict[str, Any]) -> None:
    for key in ("data", "cookies", "query_string", "env"):
        request.pop(key, None)
    if isinstance(request.get("url"), str):
        request["url"] = _TOKEN_PATH.sub(r"/\1/[token]", request["url"].split("?")[0])
    headers = request.get("headers")
    if isinstance(headers, dict):
        request["headers"] = {k: v for k, v in headers.items() if k.lower() in _SAFE_HEADERS}


def scrub_event(event: dict[str, Any], hint: Any = None) -> dict[str, Any]:
    """`before_send` / `before_send_transaction`: the event without personal data (see above)."""
    for exc in (event.get("exception") or {}).get("values") or []:
        _scrub_exception(exc)
    for thread in (event.get("threads") or {}).get("values") or []:
        for frame in (thread.get("stacktrace") or {}).get("frames") or []:
            frame.pop("vars", None)
    if isinstance(event.get("message"), str):
        event["message"] = scrub_text(event["message"])
    logentry = event.get("logentry")
    if isinstance(logentry, dict):
        if isinstance(logentry.get("message"), str):
            logentry["message"] = scrub_text(logentry["message"])
        logentry.pop("formatted", None)
        if "params" in logentry:  # the values logged: only numbers are kept
            params = logentry["params"]
            items = params if isinstance(params, list | tuple) else [params]
            logentry["params"] = [
                p if isinstance(p, bool | int | float) or p is None else REDACTED for p in items
            ]
    crumbs = event.get("breadcrumbs")
    values = crumbs.get("values") if isinstance(crumbs, dict) else crumbs
    for crumb in values or []:
        if isinstance(crumb, dict):
            _scrub_breadcrumb(crumb)
    if isinstance(event.get("request"), dict):
        _scrub_request(event["request"])
    extra = event.get("extra")
    if isinstance(extra, dict) and isinstance(extra.get("sys.argv"), list):
        extra["sys.argv"] = extra["sys.argv"][
            :1
        ]  # the command, not its arguments (file names, text)
    for key in ("extra", "contexts"):
        if isinstance(event.get(key), dict):
            event[key] = {
                k: (v if k in ("trace", "runtime", "os", "device") else _scrub_value(v))
                for k, v in event[key].items()
            }
    if isinstance(event.get("transaction"), str):
        event["transaction"] = _TOKEN_PATH.sub(r"/\1/[token]", event["transaction"])
    for span in event.get("spans") or []:
        if isinstance(span.get("description"), str):
            span["description"] = scrub_text(span["description"])
        if isinstance(span.get("data"), dict):
            span["data"] = _scrub_value({k: v for k, v in span["data"].items() if "param" not in k})
    event.pop("user", None)
    return event


def scrub_breadcrumb(crumb: dict[str, Any], hint: Any = None) -> dict[str, Any]:
    """`before_breadcrumb`: scrubbed as soon as recorded, not only when an event is sent.

    A log breadcrumb carries the *formatted* message, with the logged values in it; it is
    replaced by the message template ("stored %s for %s"), so the values never leave.
    """
    record = hint.get("log_record") if isinstance(hint, Mapping) else None
    if record is not None:
        crumb["message"] = str(record.msg)
    return _scrub_breadcrumb(crumb)


def init_sentry(dsn: str | None = None, **options: Any) -> bool:
    """Start Sentry if a DSN is configured; every event goes through the scrubbers above."""
    dsn = dsn or load_settings().sentry_dsn
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration

    sentry_sdk.init(
        dsn=dsn,
        integrations=[CeleryIntegration()],
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        before_send=scrub_event,  # type: ignore[arg-type]
        before_send_transaction=scrub_event,  # type: ignore[arg-type]
        before_breadcrumb=scrub_breadcrumb,
        **options,
    )
    return True
