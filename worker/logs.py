"""Structured logs (structlog over the standard library): one event per line, with the ids of
what the line is about.

`configure()` is called by the shells (the Celery worker bootstrap, `tocsin run`, `tocsin web`).
Every job run binds its name and the ids among its arguments (`source_id`, `topic`,
`signal_ids`, ...) to the context (`worker.jobs.run`), and a job that learns more (the incidents a
signal opened) binds those too, so every line a task writes carries them — also the lines of
modules that use the standard `logging.getLogger`. Mention text is never logged.

`TOCSIN_LOG_FORMAT=json` writes one JSON object a line (for a log shipper); the default is
`key=value` text for a terminal.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, TextIO

import structlog

_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.processors.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def _route_through_logging() -> None:
    """Until a shell configures output, structlog events go to the standard `logging` module
    (silent below WARNING without a handler, as any library's logs), never straight to stdout."""
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


if not structlog.is_configured():
    _route_through_logging()


def configure(fmt: str | None = None, level: str = "INFO", stream: TextIO | None = None) -> None:
    """Send tocsin's logs (structlog and `logging.getLogger("tocsin...")`) to `stream`."""
    fmt = fmt or os.environ.get("TOCSIN_LOG_FORMAT", "console")
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    _route_through_logging()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=_SHARED,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger("tocsin")
    root.handlers = [handler]
    root.setLevel(level)
    root.propagate = False


def get_logger(name: str) -> Any:
    """A structlog logger under the `tocsin` namespace (e.g. `get_logger("tocsin.worker")`)."""
    return structlog.stdlib.get_logger(name)


bind = structlog.contextvars.bind_contextvars
bound = structlog.contextvars.bound_contextvars
