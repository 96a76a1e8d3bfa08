"""The console channel: one line on stdout and the whole message in a file under the outbox
directory. It is the embedded default and the fallback of every other channel."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from alerts.channels.base import OutgoingMessage, TransportError
from alerts.channels.registry import BuildContext, ChannelType, Options
from alerts.channels.render import one_line, render_html, render_text
from worker.config import Person


class ConsoleChannel:
    def __init__(self, outbox_dir: Path, *, name: str = "console", stream: TextIO | None = None):
        self.name = name
        self.outbox_dir = outbox_dir
        self.stream = stream

    def send(self, message: OutgoingMessage) -> None:
        if message.action in ("acknowledged", "resolved"):
            return  # nothing to update in a file already written
        stem = f"{message.notification_id:06d}-{message.recipient}"
        try:
            self.outbox_dir.mkdir(parents=True, exist_ok=True)
            (self.outbox_dir / f"{stem}.txt").write_text(render_text(message), encoding="utf-8")
            (self.outbox_dir / f"{stem}.html").write_text(render_html(message), encoding="utf-8")
        except OSError as exc:
            raise TransportError(f"console: cannot write {self.outbox_dir}: {exc}") from exc
        stream = self.stream or sys.stdout
        link = message.body.get("ack_url", "")
        print(
            f"[tocsin] PAGE {message.role} {message.recipient}: {one_line(message.subject)} — ack: {link}",
            file=stream,
            flush=True,
        )


class ConsoleOptions(Options):
    pass


def _build(name: str, options: ConsoleOptions, ctx: BuildContext) -> ConsoleChannel:
    return ConsoleChannel(ctx.outbox_dir, name=name)


def _address(person: Person, options: ConsoleOptions) -> str:
    return person.id


CHANNEL = ChannelType("console", ConsoleOptions, _build, _address)
