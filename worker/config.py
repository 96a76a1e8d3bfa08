"""The team's configuration: one `tocsin.toml` with topics, people, groups, policies and channels.

`load_config(path)` parses and validates the whole file at start. Any problem raises `ConfigError`
whose one-line message names the file, the line (when it can be found) and the key, and says what
is wrong, e.g. ``tocsin.toml:14: topics[0].sensitivity: must be one of fewer, balanced, more
(got 'loud')``. Secrets never live in the file: a channel names the environment variable that
holds its password (`password_env = "SMTP_PASSWORD"`).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from worker.reports_config import ReportsConfig, check_references, parse_reports

SENSITIVITIES = ("fewer", "balanced", "more")
CHANNEL_TYPES = ("console", "smtp", "webhook")
DEFAULT_POLICY = "default"
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


class ConfigError(ValueError):
    """A bad configuration file. `str(err)` is one line: file:line: key: what is wrong."""

    def __init__(self, path: str, key: str, message: str, line: int | None = None) -> None:
        self.path, self.key, self.line, self.reason = path, key, line, message
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {key}: {message}" if key else f"{where}: {message}")


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    email: str | None = None
    phone: str | None = None
    role: str = ""


@dataclass(frozen=True)
class Step:
    """One escalation step: `after_minutes` from the incident's opening, notify these targets.

    A target is a person id or a group name; `channels` are channel names from [channels].
    """

    after_minutes: float
    notify: tuple[str, ...]
    channels: tuple[str, ...]
    role: str = "on-call"


@dataclass(frozen=True)
class Policy:
    name: str
    steps: tuple[Step, ...]
    #: An incident at this severity or worse (1 = SEV1) skips straight to the last step's targets too.
    severe_at: int = 1
    #: Fire the last step again every N minutes until acknowledged (0 = never).
    repeat_minutes: float = 0
    #: Resolve an incident after this many minutes without a new signal.
    auto_resolve_minutes: float = 120


@dataclass(frozen=True)
class Channel:
    name: str
    type: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Topic:
    name: str
    display_name: str
    queries: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    sensitivity: str = "balanced"
    thresholds: Mapping[str, Any] = field(default_factory=dict)
    crisis_terms: tuple[str, ...] = ()
    policy: str = DEFAULT_POLICY
    poll_seconds: int = 300

    def detection_settings(self) -> Any:
        """The detector settings for this topic (preset plus explicit thresholds)."""
        from worker.detection import settings_for

        overrides = dict(self.thresholds)
        if self.crisis_terms:
            overrides["extra_crisis_terms"] = tuple(self.crisis_terms)
        return settings_for(self.sensitivity, **overrides)


@dataclass(frozen=True)
class Config:
    path: str
    topics: Mapping[str, Topic]
    people: Mapping[str, Person]
    groups: Mapping[str, tuple[str, ...]]
    policies: Mapping[str, Policy]
    channels: Mapping[str, Channel]
    timezone: str = "UTC"
    bucket_minutes: int = 5
    reports: ReportsConfig = field(
        default_factory=ReportsConfig
    )  # [reports] (worker.reports_config)

    def resolve(self, target: str) -> list[Person]:
        """The people a step target means: a person id, or every member of a group."""
        if target in self.people:
            return [self.people[target]]
        return [self.people[p] for p in self.groups.get(target, ())]

    def topic(self, name: str) -> Topic:
        """The named topic, or one with every default (used for replayed topics not in the file)."""
        return self.topics.get(name) or Topic(name=name, display_name=name)


def default_policy() -> Policy:
    """On-call at once; leadership after 15 minutes unacknowledged (DESIGN.md, replay defaults)."""
    return Policy(
        name=DEFAULT_POLICY,
        steps=(
            Step(0, ("oncall",), ("console",), role="on-call"),
            Step(15, ("leadership",), ("console",), role="leadership"),
        ),
    )


def default_config(topics: list[str] | None = None) -> Config:
    """What `tocsin replay` and `tocsin demo` use without --config: console channel, stand-in people."""
    people = {
        "oncall": Person("oncall", "On-call manager", role="social media manager"),
        "leadership": Person("leadership", "Leadership", role="leadership"),
    }
    return Config(
        path="<defaults>",
        topics={t: Topic(name=t, display_name=t) for t in (topics or [])},
        people=people,
        groups={"oncall": ("oncall",), "leadership": ("leadership",)},
        policies={DEFAULT_POLICY: default_policy()},
        channels={"console": Channel("console", "console")},
    )


# --- loading ---------------------------------------------------------------------------------


class _Ctx:
    """Where we are in the file, to turn a key path into a line number."""

    def __init__(self, path: str, text: str) -> None:
        self.path, self.lines = path, text.splitlines()

    def line_of(self, *needles: str) -> int | None:
        """The line of the last needle found after the earlier ones (best effort; None if none)."""
        start, found = 0, False
        for needle in needles:
            pattern = re.compile(rf"(^|[\s\[.\"']){re.escape(needle)}($|[\s\].=\"'])")
            for i in range(start, len(self.lines)):
                if pattern.search(self.lines[i].split("#", 1)[0]):
                    start, found = i, True
                    break
        return start + 1 if found else None

    def fail(self, key: str, message: str, *needles: str) -> ConfigError:
        return ConfigError(self.path, key, message, self.line_of(*(needles or key.split("."))))


def _table(ctx: _Ctx, data: Any, key: str) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ctx.fail(key, f"must be a table, got {type(data).__name__}")
    return data


def _str(
    ctx: _Ctx, data: Mapping[str, Any], key: str, where: str, default: str | None = None
) -> str:
    value = data.get(key, default)
    if value is None:
        raise ctx.fail(f"{where}.{key}", "is required", *where.split("."), key)
    if not isinstance(value, str) or not value.strip():
        raise ctx.fail(
            f"{where}.{key}", f"must be a non-empty string, got {value!r}", *where.split("."), key
        )
    return value


def _number(ctx: _Ctx, data: Mapping[str, Any], key: str, where: str, default: float) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ctx.fail(
            f"{where}.{key}", f"must be a number ≥ 0, got {value!r}", *where.split("."), key
        )
    return float(value)


def _str_list(ctx: _Ctx, value: Any, where: str, *needles: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ctx.fail(where, f"must be a list of strings, got {value!r}", *needles)
    return tuple(value)


def _unknown(ctx: _Ctx, data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    for key in data:
        if key not in allowed:
            raise ctx.fail(
                f"{where}.{key}" if where else key,
                f"unknown key (expected one of: {', '.join(sorted(allowed))})",
                *(where.split(".") if where else ()),
                key,
            )


def _topics(ctx: _Ctx, raw: Any, known_platforms: set[str]) -> dict[str, Topic]:
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise ctx.fail("topics", "must be an array of tables: write [[topics]]")
    topics: dict[str, Topic] = {}
    allowed = {
        "name",
        "display_name",
        "queries",
        "sensitivity",
        "thresholds",
        "crisis_terms",
        "policy",
        "poll_seconds",
    }
    for i, item in enumerate(raw):
        where = f"topics[{i}]"
        item = _table(ctx, item, where)
        name = _str(ctx, item, "name", where)
        if not _NAME.match(name):
            raise ctx.fail(
                f"{where}.name", f"use letters, digits, '-', '_' or '.', got {name!r}", "name", name
            )
        _unknown(ctx, item, allowed, where)
        if name in topics:
            raise ctx.fail(f"{where}.name", f"topic {name!r} is defined twice", "name", name)
        queries: dict[str, tuple[str, ...]] = {}
        for platform, q in _table(ctx, item.get("queries"), f"{where}.queries").items():
            if known_platforms and platform not in known_platforms:
                raise ctx.fail(
                    f"{where}.queries.{platform}",
                    f"unknown platform (known: {', '.join(sorted(known_platforms))})",
                    name,
                    platform,
                )
            queries[platform] = _str_list(ctx, q, f"{where}.queries.{platform}", name, platform)
        sensitivity = item.get("sensitivity", "balanced")
        if sensitivity not in SENSITIVITIES:
            raise ctx.fail(
                f"{where}.sensitivity",
                f"must be one of {', '.join(SENSITIVITIES)} (got {sensitivity!r})",
                name,
                "sensitivity",
            )
        thresholds = _table(ctx, item.get("thresholds"), f"{where}.thresholds")
        poll = _number(ctx, item, "poll_seconds", where, 300)
        if poll < 30:
            raise ctx.fail(
                f"{where}.poll_seconds", "must be at least 30 seconds", name, "poll_seconds"
            )
        topics[name] = Topic(
            name=name,
            display_name=str(item.get("display_name") or name),
            queries=queries,
            sensitivity=sensitivity,
            thresholds=thresholds,
            crisis_terms=_str_list(
                ctx, item.get("crisis_terms", []), f"{where}.crisis_terms", name, "crisis_terms"
            ),
            policy=str(item.get("policy", DEFAULT_POLICY)),
            poll_seconds=int(poll),
        )
        # Unknown threshold names are caught now, not when the detector first runs.
        try:
            topics[name].detection_settings()
        except (TypeError, ValueError) as exc:
            raise ctx.fail(f"{where}.thresholds", str(exc), name, "thresholds") from None
    return topics


def _people(ctx: _Ctx, raw: Any) -> dict[str, Person]:
    people = {}
    for pid, item in _table(ctx, raw, "people").items():
        where = f"people.{pid}"
        item = _table(ctx, item, where)
        _unknown(ctx, item, {"name", "email", "phone", "role"}, where)
        email = item.get("email")
        if email is not None and (
            not isinstance(email, str) or not re.fullmatch(r"[^@\s]+@[^@\s]+", email)
        ):
            raise ctx.fail(f"{where}.email", f"not an e-mail address: {email!r}", pid, "email")
        people[pid] = Person(
            id=pid,
            name=str(item.get("name") or pid),
            email=email,
            phone=item.get("phone"),
            role=str(item.get("role", "")),
        )
    return people


def _policies(ctx: _Ctx, raw: Any) -> dict[str, Policy]:
    policies = {}
    for name, item in _table(ctx, raw, "policies").items():
        where = f"policies.{name}"
        item = _table(ctx, item, where)
        _unknown(ctx, item, {"steps", "severe_at", "repeat_minutes", "auto_resolve_minutes"}, where)
        raw_steps = item.get("steps")
        if not isinstance(raw_steps, list) or not raw_steps:
            raise ctx.fail(f"{where}.steps", "must be a non-empty array of steps", name, "steps")
        steps = []
        last = -1.0
        for j, s in enumerate(raw_steps):
            sw = f"{where}.steps[{j}]"
            s = _table(ctx, s, sw)
            _unknown(ctx, s, {"after_minutes", "notify", "channels", "role"}, sw)
            after = _number(ctx, s, "after_minutes", sw, 0)
            if after < last:
                raise ctx.fail(
                    f"{sw}.after_minutes", "steps must be in time order", name, "after_minutes"
                )
            last = after
            steps.append(
                Step(
                    after_minutes=after,
                    notify=_str_list(ctx, s.get("notify"), f"{sw}.notify", name, "notify"),
                    channels=_str_list(
                        ctx, s.get("channels", ["console"]), f"{sw}.channels", name, "channels"
                    ),
                    role=str(s.get("role", "on-call" if j == 0 else "leadership")),
                )
            )
        severe_at = item.get("severe_at", 1)
        if severe_at not in (0, 1, 2, 3, 4):
            raise ctx.fail(
                f"{where}.severe_at", "must be 0 (never) or a severity 1–4", name, "severe_at"
            )
        policies[name] = Policy(
            name=name,
            steps=tuple(steps),
            severe_at=int(severe_at),
            repeat_minutes=_number(ctx, item, "repeat_minutes", where, 0),
            auto_resolve_minutes=_number(ctx, item, "auto_resolve_minutes", where, 120),
        )
    return policies


def _channels(ctx: _Ctx, raw: Any) -> dict[str, Channel]:
    channels = {"console": Channel("console", "console")}
    for name, item in _table(ctx, raw, "channels").items():
        where = f"channels.{name}"
        item = dict(_table(ctx, item, where))
        ctype = item.pop("type", None)
        if ctype not in CHANNEL_TYPES:
            raise ctx.fail(
                f"{where}.type",
                f"must be one of {', '.join(CHANNEL_TYPES)} (got {ctype!r})",
                name,
                "type",
            )
        if ctype == "smtp":
            _str(ctx, item, "host", where)
            _str(ctx, item, "from", where)
            if "port" in item and (
                not isinstance(item["port"], int) or not 0 < item["port"] < 65536
            ):
                raise ctx.fail(
                    f"{where}.port", f"must be a port number, got {item['port']!r}", name, "port"
                )
        if ctype == "webhook":
            _str(ctx, item, "url", where)
        channels[name] = Channel(name, ctype, item)
    return channels


def parse_config(text: str, path: str = "tocsin.toml") -> Config:
    """Parse and validate the text of a tocsin.toml; raise ConfigError on the first problem."""
    ctx = _Ctx(path, text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        line = int(match.group(1)) if match else None
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise ConfigError(path, "", f"not valid TOML: {msg}", line) from None
    _unknown(
        ctx, data, {"tocsin", "topics", "people", "groups", "policies", "channels", "reports"}, ""
    )
    general = _table(ctx, data.get("tocsin"), "tocsin")
    _unknown(ctx, general, {"timezone", "bucket_minutes"}, "tocsin")
    timezone = str(general.get("timezone", "UTC"))
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(timezone)
    except Exception:
        raise ctx.fail("tocsin.timezone", f"unknown time zone {timezone!r}", "timezone") from None
    bucket = general.get("bucket_minutes", 5)
    if bucket not in (1, 5, 10, 15, 30, 60):
        raise ctx.fail(
            "tocsin.bucket_minutes", "must be one of 1, 5, 10, 15, 30, 60", "bucket_minutes"
        )

    try:
        from worker.sources import CONNECTORS

        platforms = set(CONNECTORS)
    except ImportError:  # pragma: no cover - during early development only
        platforms = set()
    topics = _topics(ctx, data.get("topics"), platforms)
    people = _people(ctx, data.get("people"))
    groups = {}
    for gname, members in _table(ctx, data.get("groups"), "groups").items():
        groups[gname] = _str_list(ctx, members, f"groups.{gname}", "groups", gname)
        for member in groups[gname]:
            if member not in people:
                raise ctx.fail(
                    f"groups.{gname}",
                    f"unknown person {member!r} (define [people.{member}])",
                    "groups",
                    gname,
                )
    policies = _policies(ctx, data.get("policies"))
    if DEFAULT_POLICY not in policies:
        policies[DEFAULT_POLICY] = default_policy()
        # The built-in policy pages the groups "oncall" then "leadership". Where the file does not
        # define them, stand-ins on the console channel keep a minimal config runnable.
        for stand_in in default_config().people.values():
            if stand_in.id not in groups and stand_in.id not in people:
                people[stand_in.id] = stand_in
                groups[stand_in.id] = (stand_in.id,)
    channels = _channels(ctx, data.get("channels"))

    # Cross-references: every name used must be defined, so a typo fails now, not at 3 a.m.
    for t in topics.values():
        if t.policy not in policies:
            raise ctx.fail(
                f"topics.{t.name}.policy", f"unknown policy {t.policy!r}", t.name, "policy"
            )
    for p in policies.values():
        for j, step in enumerate(p.steps):
            for target in step.notify:
                if target not in people and target not in groups:
                    # The built-in default policy names the groups "oncall" and "leadership".
                    raise ctx.fail(
                        f"policies.{p.name}.steps[{j}].notify",
                        f"unknown person or group {target!r}",
                        p.name,
                        "notify",
                    )
            for ch in step.channels:
                if ch not in channels:
                    raise ctx.fail(
                        f"policies.{p.name}.steps[{j}].channels",
                        f"unknown channel {ch!r} (define [channels.{ch}])",
                        p.name,
                        "channels",
                    )
    reports = parse_reports(data.get("reports"), ctx.fail)
    check_references(
        reports, people, groups, channels, ctx.fail, "recipients" in (data.get("reports") or {})
    )
    return Config(
        path=path,
        topics=topics,
        people=people,
        groups=groups,
        policies=policies,
        channels=channels,
        timezone=timezone,
        bucket_minutes=int(bucket),
        reports=reports,
    )


def load_config(path: str | Path) -> Config:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(p), "", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(p), "", f"cannot read: {exc}") from None
    return parse_config(text, str(p))
