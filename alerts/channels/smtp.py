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

from alerts.channels.base import OutgoingMessage, TransportError
from alerts.channels.render import render_html, render_text, safe_header


class SMTPChannel:
    def __init__(self, name: str, options: Mapping[str, Any], *, timeout: float = 15.0) -> None:
        self.name = name
        self.host = str(options["host"])
        self.port = int(options.get("port", 25))
        self.sender = str(options["from"])
        self.starttls = bool(options.get("starttls", False))
        self.use_ssl = bool(options.get("ssl", False))
        self.username = (
            os.environ.get(str(options["username_env"])) if options.get("username_env") else None
        )
        self.password = (
            os.environ.get(str(options["password_env"])) if options.get("password_env") else None
        )
        self.timeout = timeout

    def build(self, message: OutgoingMessage) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = safe_header(message.subject)
        msg["From"] = self.sender
        msg["To"] = safe_header(message.address)
        msg["Message-ID"] = make_msgid(domain="tocsin.local")
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
