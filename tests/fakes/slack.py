"""A fake Slack Web API (`/api/chat.postMessage`, `/api/chat.update`) on loopback, and a signer
for interactivity requests, by Slack's contract:

- `Authorization: Bearer <token>`; none → `not_authed`, another → `invalid_auth` (HTTP 200).
- JSON bodies need `Content-Type: application/json`; form bodies are accepted too.
- `channel` must be a known conversation (`channel_not_found`); text or blocks (`no_text`);
  blocks are checked for the limits Slack enforces (`invalid_blocks`); metadata needs
  `event_type` and `event_payload` (`invalid_metadata_format`).
- chat.update needs an existing `channel` + `ts` (`message_not_found`).
- Rate limit: HTTP 429, `Retry-After`, `{"ok": false, "error": "ratelimited"}` (`ratelimit()`).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

from tests.fakes.vendor import Answer, FakeVendor, Request

BLOCK_TYPES = {"header", "section", "context", "actions", "divider", "image", "input", "rich_text"}


def error(code: str) -> Answer:
    return Answer.json(200, {"ok": False, "error": code})


def _blocks_problem(blocks: Any) -> str | None:
    if not isinstance(blocks, list) or len(blocks) > 50:
        return "blocks must be a list of at most 50"
    for block in blocks:
        if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
            return f"unknown block {block!r:.60}"
        if block["type"] == "header":
            text = block.get("text") or {}
            if text.get("type") != "plain_text" or not 0 < len(text.get("text", "")) <= 150:
                return "header needs plain_text of 1..150 characters"
        if block["type"] == "section":
            text = block.get("text") or {}
            if (
                text.get("type") not in ("mrkdwn", "plain_text")
                or not 0 < len(text.get("text", "")) <= 3000
            ):
                return "section text must be 1..3000 characters"
        if block["type"] == "actions":
            elements = block.get("elements") or []
            if not 0 < len(elements) <= 25:
                return "actions need 1..25 elements"
            for e in elements:
                if (
                    e.get("type") != "button"
                    or not 0 < len(e.get("text", {}).get("text", "")) <= 75
                ):
                    return "button text must be 1..75 characters"
                if "url" in e and len(e["url"]) > 3000:
                    return "button url over 3000 characters"
                if "value" in e and len(e["value"]) > 2000:
                    return "button value over 2000 characters"
    return None


class SlackFake(FakeVendor):
    def __init__(
        self,
        token: str = "xoxb-test-token",
        channels: tuple[str, ...] = ("C0TOCSIN",),
        users: tuple[str, ...] = ("U0ALICE",),
    ) -> None:
        super().__init__()
        self.token = token
        self.channels = set(channels)
        self.users = set(users)
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.updates: list[dict[str, Any]] = []
        self._ts = itertools.count(1)

    def ratelimit(self, retry_after: int = 1, count: int = 1) -> None:
        self.fail_next(
            Answer.json(
                429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)}
            ),
            count,
        )

    def posted(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.messages.values())

    def _args(self, req: Request) -> dict[str, Any] | None:
        ctype = req.headers.get("content-type", "")
        if ctype.startswith("application/json"):
            try:
                data = req.json()
            except ValueError:
                return None
            return data if isinstance(data, dict) else None
        if ctype.startswith("application/x-www-form-urlencoded"):
            args: dict[str, Any] = req.form()
            for key in ("blocks", "metadata"):
                if key in args:
                    try:
                        args[key] = json.loads(args[key])
                    except ValueError:
                        return None
            return args
        return None

    def handle(self, req: Request) -> Answer:
        if req.method != "POST" or req.path not in ("/api/chat.postMessage", "/api/chat.update"):
            return Answer(404, b"not found")
        auth = req.headers.get("authorization", "")
        if not auth:
            return error("not_authed")
        if not hmac.compare_digest(auth, f"Bearer {self.token}"):
            return error("invalid_auth")
        args = self._args(req)
        if args is None:
            return error("invalid_json")
        channel = str(args.get("channel") or "")
        if not args.get("text") and not args.get("blocks"):
            return error("no_text")
        if "blocks" in args and _blocks_problem(args["blocks"]):
            return error("invalid_blocks")
        meta = args.get("metadata")
        if meta is not None and (
            not isinstance(meta, dict)
            or "event_type" not in meta
            or not isinstance(meta.get("event_payload"), dict)
        ):
            return error("invalid_metadata_format")
        with self.lock:
            if req.path == "/api/chat.update":
                key = (channel, str(args.get("ts") or ""))
                if key not in self.messages:
                    return error("message_not_found")
                self.messages[key] = {**self.messages[key], **args}
                self.updates.append(args)
                return Answer.json(
                    200,
                    {"ok": True, "channel": channel, "ts": key[1], "text": args.get("text", "")},
                )
            if channel in self.users:
                channel = "D" + channel[1:]  # a DM is its own conversation
            elif channel not in self.channels:
                return error("channel_not_found")
            ts = f"{int(time.time())}.{next(self._ts):06d}"
            message = {**args, "channel": channel, "ts": ts}
            self.messages[(channel, ts)] = message
        return Answer.json(
            200,
            {
                "ok": True,
                "channel": channel,
                "ts": ts,
                "message": {"text": args.get("text", ""), "ts": ts},
            },
        )


def press(
    secret: str,
    user: str,
    incident_id: int,
    *,
    timestamp: int | None = None,
    action_id: str = "tocsin_ack",
    channel: str = "C0TOCSIN",
    ts: str = "1.000001",
) -> tuple[bytes, dict[str, str]]:
    """The body and headers Slack sends when `user` presses a button: form-encoded `payload`,
    signed v0 = HMAC-SHA256(secret, "v0:<timestamp>:<body>")."""
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": "T0TEAM"},
        "team": {"id": "T0TEAM"},
        "container": {"type": "message", "channel_id": channel, "message_ts": ts},
        "channel": {"id": channel},
        "message": {"ts": ts},
        "response_url": "https://hooks.slack.invalid/actions/T0/1/x",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "tocsin",
                "value": str(incident_id),
                "action_ts": ts,
            }
        ],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(
        secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256
    ).hexdigest()
    return body, {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest}",
    }
