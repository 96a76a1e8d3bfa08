"""The team's configuration: one `tocsin.toml` with topics, people, groups, policies and channels.

`load_config(path)` parses and validates the whole file at start. Any problem raises `ConfigError`
whose one-line message names the file, the line (when it can be found) and the key, and says what
is wrong, e.g. ``tocsin.toml:14: topics[0].sensitivity: must be one of fewer, balanced, more
(got 'loud')``. Secrets never live in the file: a channel names the environment variable that
holds its password (`password_env = "SMTP_PASSWORD"`).

Every key's type and range is checked by one pydantic schema (`worker.config_schema`), so a file
that `tocsin check-config` accepts cannot fail the runtime later (an `inf` delay, a string where a
number goes, a person id that is not a safe file name). Cross-references (a step naming an
undefined group or channel) are checked after the schema.

Adding a section of your own (`[reports]`, `[schedules]`, ...): write a pydantic model in your
module and add one line to `SECTIONS` below (`"reports": "pkg.module:Model"`); the validated model is then
`config.sections["reports"]`. New channel types: one line in `CHANNEL_MODELS`. New person contact
fields: one field on `worker.config_schema.PersonModel` (and on `Person`).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from worker.oncall_config import OnCall
from worker.reports_config import ReportsConfig

SENSITIVITIES = ("fewer", "balanced", "more")
DEFAULT_POLICY = "default"

#: Extra top-level sections: key → "module:PydanticModel" (imported when a file uses the key).
#: The validated model is `Config.sections[key]`. One line per section; nothing else to change.
SECTIONS: dict[str, str] = {
    "deadman": "alerts.deadman:DeadmanConfig",
}
#: Checkers of `[channels.NAME]` options by channel type, registered by the alerts side's channel
#: registry when it is imported (`alerts.channels`; worker never imports alerts). Each raises
#: ValueError("key: what is wrong"). Where none is registered, `CHANNEL_MODELS` below validates.
CHANNEL_CHECKS: dict[str, Callable[[Mapping[str, Any]], None]] = {}
#: Channel type → "module:PydanticModel" validating its options (the `type` key excluded).
CHANNEL_MODELS: dict[str, str] = {
    "console": "worker.config_schema:ConsoleChannelModel",
    "smtp": "worker.config_schema:SmtpChannelModel",
    "webhook": "worker.config_schema:WebhookChannelModel",
}


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
    slack_user_id: str | None = None
    teams: str | None = None


@dataclass(frozen=True)
class Step:
    """One escalation step: `after_minutes` from the incident's opening, notify these targets.

    A target is a person id, a group name or "schedule:NAME" (whoever is on call when the step
    fires); `channels` are channel names from [channels].
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
    #: A crisis back within this many minutes of its incident's resolution reopens it (flapping).
    reopen_minutes: float = 60


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
        """The detector settings for this topic (preset plus explicit thresholds); worked out
        once per topic (every evaluation asks for them)."""
        cached = self.__dict__.get("_detection_settings")
        if cached is not None:
            return cached
        from worker.detection import settings_for

        overrides = dict(self.thresholds)
        if self.crisis_terms:
            overrides["extra_crisis_terms"] = tuple(self.crisis_terms)
        settings = settings_for(self.sensitivity, **overrides)
        object.__setattr__(self, "_detection_settings", settings)  # frozen: a private cache
        return settings


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
    #: Validated extra sections (`SECTIONS`), by top-level key.
    sections: Mapping[str, Any] = field(default_factory=dict)
    #: Schedules and people's quiet hours (worker.oncall_config; used by alerts.schedules).
    oncall: OnCall = field(default_factory=OnCall)
    #: `[sources.NAME]` platform settings (worker.sources.settings); empty means all defaults.
    sources: Mapping[str, Any] = field(default_factory=dict)
    #: `[reports]`: when the weekly and monthly summaries go, to whom (worker.reports_config).
    reports: ReportsConfig = field(default_factory=ReportsConfig)

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
    """Where we are in the file, to turn a key path into a line number: what the section parsers
    written with "needles" (`worker.oncall_config`, `worker.sources.settings`) call as `fail`."""

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


def parse_config(text: str, path: str = "tocsin.toml") -> Config:
    """Parse and validate the text of a tocsin.toml; raise ConfigError on the first problem."""
    from worker.config_schema import validate

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        line = int(match.group(1)) if match else None
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise ConfigError(path, "", f"not valid TOML: {msg}", line) from None
    return validate(data, text, path)


def load_config(path: str | Path) -> Config:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(p), "", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(p), "", f"cannot read: {exc}") from None
    return parse_config(text, str(p))
