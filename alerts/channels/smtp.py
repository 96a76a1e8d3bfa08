"""E-mail over SMTP (stdlib smtplib): multipart text + HTML with a one-click acknowledge link."""

from __future__ import annotations

import base64
import os
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from pydantic import Field

from alerts.channels.base import OutgoingMessage, TransportError
from alerts.channels.registry import BuildContext, ChannelType, Options
from alerts.channels.render import render_html, render_text, safe_header
from worker.config import Person


class SMTPOptions(Options):
    host: str = Field(min_length=1)
    port: int = Field(default=25, gt=0, lt=65536)
    sender: str = Field(alias="from", min_length=3)
    starttls: bool = False
    ssl: bool = False
    username_env: str | None = None
    password_env: str | None = None


class SMTPChannel:
    def __init__(
        self, name: str, options: SMTPOptions | Mapping[str, Any], *, timeout: float = 15.0
    ) -> None:
        opts = options if isinstance(options, SMTPOptions) else SMTPOptions.model_validate(options)
        self.name = name
        self.host = opts.host
        self.port = opts.port
        self.sender = opts.sender
        self.starttls = opts.starttls
        self.use_ssl = opts.ssl
        self.username = os.environ.get(opts.username_env) if opts.username_env else None
        self.password = os.environ.get(opts.password_env) if opts.password_env else None
        self.timeout = timeout

    def build(self, message: OutgoingMessage) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = safe_header(message.subject)
        msg["From"] = self.sender
        msg["To"] = safe_header(message.address)
        # The notification's stable id makes the Message-ID: a page re-sent after a crash is the
        # same message to the receiving server and mail client, which drop the copy.
        msg["Message-ID"] = (
            f"<{message.uid}@tocsin.local>" if message.uid else make_msgid(domain="tocsin.local")
        )
        if message.uid:
            msg["X-Tocsin-Notification-Id"] = message.uid
        # Threads every page of one incident together in the recipient's mail client.
        if message.incident_id:
            msg["References"] = f"<incident-{message.incident_id}@tocsin.local>"
        msg.set_content(render_text(message))
        msg.add_alternative(render_html(message), subtype="html")
        # Charts travel as inline PNG parts referenced by cid: (mail clients block SVG and
        # scripts); body["images"] comes from alerts.packets.render.EmailParts.to_body().
        images = message.body.get("images") or []
        if images:
            html_part = msg.get_body(preferencelist=("html",))
            assert html_part is not None
            for image in images:
                maintype, _, subtype = str(image.get("mime", "image/png")).partition("/")
                html_part.add_related(
                    base64.b64decode(image["data_b64"]),
                    maintype=maintype,
                    subtype=subtype,
                    cid=f"<{image['cid']}>",
                    filename=image.get("filename"),
                    disposition="inline",
                )
        return msg

    def send(self, message: OutgoingMessage) -> None:
        if message.action in ("acknowledged", "resolved"):
            return  # a sent e-mail cannot be changed; the packet shows the new state
        email = self.build(message)
        try:
            cls = smtplib.SMTP_SSL if self.use_ssl else smtplib.SMTP
            with cls(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls and not self.use_ssl:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username and self.password:
                    smtp.login(self.username, self.password)
                smtp.send_message(email)
        except smtplib.SMTPAuthenticationError as exc:
            raise TransportError(
                f"smtp {self.host}: authentication refused ({exc.smtp_code})", permanent=True
            ) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [c for c, _ in exc.recipients.values()]
            raise TransportError(
                f"smtp {self.host}: recipient refused {codes}",
                permanent=all(c >= 500 for c in codes),
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise TransportError(
                f"smtp {self.host}: {exc.smtp_code} {exc.smtp_error!r}",
                permanent=exc.smtp_code >= 500,
            ) from exc
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            raise TransportError(
                f"smtp {self.host}:{self.port}: {exc.__class__.__name__}: {exc}"
            ) from exc


def _build(name: str, options: SMTPOptions, ctx: BuildContext) -> SMTPChannel:
    return SMTPChannel(name, options)


def _address(person: Person, options: SMTPOptions) -> str | None:
    return person.email


CHANNEL = ChannelType("smtp", SMTPOptions, _build, _address, contact="email")
