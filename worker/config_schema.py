"""The one schema of `tocsin.toml` (pydantic), and the mapping of its errors to one-line messages.

1. `RootModel` checks every key's type and range (strict: `true` is not a number, `"x"` is not a
   number, `inf` is not a delay, `42` is not a name); unknown keys are errors.
2. Extra sections and channel types come from the registries in `worker.config`
   (`SECTIONS`, `CHANNEL_MODELS`), so other modules plug their own models in with one line.
3. Cross-references (policy, group, person and channel names) are checked after the schema.
4. The first problem becomes a `ConfigError`: ``FILE:LINE: key.path: what is wrong``, the line
   found by `KeyLines`, which remembers on which line each key of the TOML text was written.
"""

from __future__ import annotations

import importlib
import math
import typing
from collections.abc import Mapping, Sequence
from dataclasses import fields as dc_fields
from dataclasses import replace
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
)
from pydantic_core import PydanticCustomError

from worker.config import (
    CHANNEL_CHECKS,
    CHANNEL_MODELS,
    DEFAULT_POLICY,
    SECTIONS,
    SENSITIVITIES,
    Channel,
    Config,
    ConfigError,
    Person,
    Policy,
    Step,
    Topic,
    _Ctx,
    default_config,
    default_policy,
)
from worker.config_lines import KeyLines

#: Person, group, policy and channel names end up in file names, URLs and log lines.
NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$"
#: The longest delay a policy may state (a year): longer ones overflow date arithmetic anyway.
MAX_MINUTES = 525_600.0


def _listify(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


Name = Annotated[str, Field(strict=True, pattern=NAME_PATTERN)]
Text = Annotated[str, Field(strict=True, min_length=1, max_length=500)]
Names = Annotated[list[Name], BeforeValidator(_listify), Field(min_length=1)]
#: A step target: a person id, a group, or "schedule:NAME" (whoever is on call then).
Target = Annotated[str, Field(strict=True, pattern=r"^(schedule:)?[A-Za-z0-9_.-]{1,100}$")]
Targets = Annotated[list[Target], BeforeValidator(_listify), Field(min_length=1)]
Texts = Annotated[list[Text], BeforeValidator(_listify)]
Minutes = Annotated[float, Field(strict=True, ge=0, le=MAX_MINUTES, allow_inf_nan=False)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)


class GeneralModel(_Model):
    timezone: Text = "UTC"
    bucket_minutes: Annotated[int, Field(strict=True)] = 5

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(value)
        except Exception:
            raise PydanticCustomError("zone", "unknown time zone {v}", {"v": repr(value)}) from None
        return value

    @field_validator("bucket_minutes")
    @classmethod
    def _bucket(cls, value: int) -> int:
        if value not in (1, 5, 10, 15, 30, 60):
            raise PydanticCustomError("bucket", "must be one of 1, 5, 10, 15, 30, 60")
        return value


def _threshold_model() -> type[BaseModel]:
    """Every detector setting, typed as `DetectionSettings` declares it, all optional."""
    from worker.detection.core import DetectionSettings

    hints = typing.get_type_hints(DetectionSettings)
    spec: dict[str, Any] = {}
    for f in dc_fields(DetectionSettings):
        hint = hints[f.name]
        if hint is int:
            gt = 0 if f.name.endswith(("_minutes", "_seconds", "_days", "_rank")) else None
            ftype: Any = Annotated[int, Field(strict=True, ge=0, gt=gt)]
        elif hint is float:
            lt = 1 if f.name == "alpha" else None
            gt = 0 if f.name in ("alpha", "warmup_hours", "min_ratio") else None
            ftype = Annotated[float, Field(strict=True, ge=0, gt=gt, lt=lt, allow_inf_nan=False)]
        else:  # the crisis-term tuples
            ftype = Texts
        spec[f.name] = (ftype | None, None)
    return create_model("ThresholdsModel", __base__=_Model, **spec)


ThresholdsModel = _threshold_model()


def _platform(value: str) -> str:
    from worker.sources import CONNECTORS

    if value not in CONNECTORS:
        known = ", ".join(sorted(CONNECTORS))
        raise PydanticCustomError("platform", "unknown platform (known: {k})", {"k": known})
    return value


Platform = Annotated[str, Field(strict=True), AfterValidator(_platform)]


class TopicModel(_Model):
    name: Annotated[str, Field(strict=True, pattern=r"^[A-Za-z0-9_.-]{1,100}$")]
    display_name: Annotated[str, Field(strict=True, min_length=1, max_length=200)] | None = None
    queries: dict[Platform, Annotated[list[Text], BeforeValidator(_listify)]] = {}
    sensitivity: Annotated[str, Field(strict=True)] = "balanced"
    thresholds: ThresholdsModel = ThresholdsModel()  # type: ignore[valid-type]
    crisis_terms: Texts = []
    policy: Name = DEFAULT_POLICY
    poll_seconds: Annotated[float, Field(strict=True, ge=30, le=86_400, allow_inf_nan=False)] = 300

    @field_validator("sensitivity")
    @classmethod
    def _sensitivity(cls, value: str) -> str:
        if value not in SENSITIVITIES:
            raise PydanticCustomError(
                "sensitivity", "must be one of fewer, balanced, more (got {v})", {"v": repr(value)}
            )
        return value


class PersonModel(_Model):
    name: Text | None = None
    email: (
        Annotated[str, Field(strict=True, pattern=r"^[^@\s]+@[^@\s]+$", max_length=320)] | None
    ) = None
    phone: Annotated[str, Field(strict=True, pattern=r"^\+?[0-9 ().-]{3,30}$")] | None = None
    role: Annotated[str, Field(strict=True, max_length=200)] = ""
    # Contact methods of the channel registry (alerts.channels).
    slack_user_id: Text | None = None
    teams: Text | None = None
    # On-call keys, validated with the schedules by `worker.oncall_config.parse_oncall`.
    timezone: Any = None
    quiet_hours: Any = None
    quiet_bypass: Any = None


class StepModel(_Model):
    after_minutes: Minutes = 0
    notify: Targets
    channels: Names = ["console"]
    role: Annotated[str, Field(strict=True, max_length=100)] | None = None


class PolicyModel(_Model):
    steps: Annotated[list[StepModel], Field(min_length=1)]
    severe_at: Annotated[int, Field(strict=True, ge=0, le=4)] = 1
    repeat_minutes: Minutes = 0
    auto_resolve_minutes: Minutes = 120
    reopen_minutes: Minutes = 60

    @field_validator("steps")
    @classmethod
    def _ordered(cls, steps: list[StepModel]) -> list[StepModel]:
        times = [s.after_minutes for s in steps]
        if times != sorted(times):
            raise PydanticCustomError("order", "steps must be in time order of after_minutes")
        return steps


class ConsoleChannelModel(_Model):
    pass


class SmtpChannelModel(_Model):
    host: Text
    port: Annotated[int, Field(strict=True, ge=1, le=65_535)] = 25
    from_: Annotated[str, Field(alias="from", strict=True, pattern=r"^[^@\s]+@[^@\s]+$")]
    starttls: Annotated[bool, Field(strict=True)] = False
    ssl: Annotated[bool, Field(strict=True)] = False
    username_env: Text | None = None
    password_env: Text | None = None
    timeout: Annotated[float, Field(strict=True, gt=0, le=300, allow_inf_nan=False)] | None = None


class WebhookChannelModel(_Model):
    url: Annotated[str, Field(strict=True, pattern=r"^https?://[^\s]+$", max_length=2000)]
    secret_env: Text | None = None
    timeout: Annotated[float, Field(strict=True, gt=0, le=300, allow_inf_nan=False)] | None = None


class RootModel(_Model):
    tocsin: GeneralModel = GeneralModel()
    topics: list[TopicModel] = []
    people: dict[Name, PersonModel] = {}
    groups: dict[Name, Names] = {}
    policies: dict[Name, PolicyModel] = {}
    # Checked per type against CHANNEL_MODELS (see `_channels`), so the error names the key.
    channels: dict[Name, dict[str, Any]] = {}


def _load(ref: str) -> type[BaseModel]:
    module, _, name = ref.partition(":")
    model = getattr(importlib.import_module(module), name)
    assert isinstance(model, type) and issubclass(model, BaseModel), ref
    return model


# --- errors ----------------------------------------------------------------------------------


def _key(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_MESSAGES = {
    "missing": "is required",
    "string_type": "must be a string, got {input}",
    "int_type": "must be an integer, got {input}",
    "float_type": "must be a number, got {input}",
    "bool_type": "must be true or false, got {input}",
    "list_type": "must be a list, got {input}",
    "dict_type": "must be a table, got {input}",
    "model_type": "must be a table, got {input}",
    "model_attributes_type": "must be a table, got {input}",
    "finite_number": "must be a finite number, got {input}",
    "string_pattern_mismatch": "not a valid name: {input} (use letters, digits, '-', '_' or '.')",
    "too_short": "must not be empty",
    "string_too_short": "must not be empty",
    "string_too_long": "is too long ({input})",
}


_PATTERN_WORDS = {
    "email": "not an e-mail address",
    "from": "not an e-mail address",
    "url": "must be an http:// or https:// URL",
    "phone": "not a phone number",
}


def _message(err: Mapping[str, Any]) -> str:
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    last = err["loc"][-1] if err["loc"] else None
    if kind == "string_pattern_mismatch" and isinstance(last, str):
        word = "url" if last.endswith("url") else last.rsplit("_", 1)[-1]
        if word in _PATTERN_WORDS:
            return f"{_PATTERN_WORDS[word]}, got {_show(value)}"
    if kind == "extra_forbidden":
        return "unknown key"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        op = {
            "greater_than_equal": "≥",
            "greater_than": ">",
            "less_than_equal": "≤",
            "less_than": "<",
        }[kind]
        bound = next(iter(ctx.values()))
        return f"must be {op} {bound:g}, got {_show(value)}"
    if kind in _MESSAGES:
        return _MESSAGES[kind].format(input=_show(value))
    if kind == "float_parsing" and isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number, got {_show(value)}"
    return str(err.get("msg", "not valid")).removeprefix("Value error, ")


def _unknown_key_hint(loc: tuple[str | int, ...]) -> str:
    """The keys allowed where an unknown one was found."""
    model: Any = RootModel
    for part in loc[:-1]:
        if isinstance(part, int) or model is None:
            continue
        info = getattr(model, "model_fields", {}).get(part)
        if info is None:
            model = _inner_model(model) if isinstance(part, str) else model
            continue
        model = _inner_model(info.annotation)
    names = sorted((f.alias or n) for n, f in getattr(model, "model_fields", {}).items())
    return f" (expected one of: {', '.join(names)})" if names else ""


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _fail(lines: KeyLines, path: str, loc: Sequence[str | int], message: str) -> ConfigError:
    return ConfigError(path, _key(loc), message, lines.line_of(loc))


def _from_validation(
    lines: KeyLines, path: str, exc: ValidationError, prefix: tuple[str | int, ...] = ()
) -> ConfigError:
    err = exc.errors(include_url=False)[0]
    loc = (*prefix, *(p for p in err["loc"] if p != "[key]"))
    message = _message(err)
    if err["type"] == "extra_forbidden":
        message += _unknown_key_hint(tuple(loc))
    elif "[key]" in err["loc"] and err["type"] == "string_pattern_mismatch":
        message = f"not a valid name: {_show(loc[-1])} (use letters, digits, '-', '_' or '.')"
    return _fail(lines, path, loc, message)


# --- the schema, then cross-references, then plain dataclasses -------------------------------


def validate(data: Mapping[str, Any], text: str, path: str) -> Config:
    lines = KeyLines(text)
    data = dict(data)
    extra = {k: data.pop(k) for k in list(data) if k in SECTIONS}
    # Sections whose own parsers name lines by "needles" (see `worker.config._Ctx`).
    raw_schedules, raw_sources = data.pop("schedules", None), data.pop("sources", None)
    raw_reports = data.pop("reports", None)
    try:
        root = RootModel.model_validate(data)
    except ValidationError as exc:
        raise _from_validation(lines, path, exc) from None
    sections: dict[str, Any] = {}
    for key, raw in extra.items():
        try:
            sections[key] = _load(SECTIONS[key]).model_validate(raw)
        except ValidationError as exc:
            raise _from_validation(lines, path, exc, (key,)) from None
    for name, raw in root.channels.items():
        ctype = raw.get("type")
        options = {k: v for k, v in raw.items() if k != "type"}
        types = list(dict.fromkeys([*CHANNEL_CHECKS, *CHANNEL_MODELS]))
        if ctype not in types:
            raise _fail(
                lines,
                path,
                ("channels", name, "type"),
                f"must be one of {', '.join(types)} (got {_show(ctype)})",
            )
        if ctype in CHANNEL_CHECKS:  # the channel module's own model (alerts.channels registry)
            try:
                CHANNEL_CHECKS[ctype](options)
            except ValueError as exc:
                key, _, why = str(exc).partition(": ")
                raise _fail(lines, path, ("channels", name, *key.split(".")), why) from None
            continue
        try:
            _load(CHANNEL_MODELS[ctype]).model_validate(options)
        except ValidationError as exc:
            raise _from_validation(lines, path, exc, ("channels", name)) from None
    ctx = _Ctx(path, text)
    config = _build(
        root, sections, lines, path, ctx, raw_schedules, raw_sources, data.get("people")
    )
    from worker.reports_config import check_references, parse_reports

    reports = parse_reports(raw_reports, ctx.fail)
    check_references(
        reports,
        config.people,
        config.groups,
        config.channels,
        ctx.fail,
        "recipients" in (raw_reports or {}),
    )
    return replace(config, reports=reports)


def _build(
    root: RootModel,
    sections: dict[str, Any],
    lines: KeyLines,
    path: str,
    ctx: _Ctx,
    raw_schedules: Any,
    raw_sources: Any,
    raw_people: Any,
) -> Config:
    from worker.oncall_config import parse_oncall
    from worker.sources.settings import parse_sources

    topics: dict[str, Topic] = {}
    for i, t in enumerate(root.topics):
        if t.name in topics:
            raise _fail(lines, path, ("topics", i, "name"), f"topic {t.name!r} is defined twice")
        thresholds = t.thresholds.model_dump(exclude_none=True)  # type: ignore[attr-defined]
        topic = Topic(
            name=t.name,
            display_name=t.display_name or t.name,
            queries={p: tuple(q) for p, q in t.queries.items()},
            sensitivity=t.sensitivity,
            thresholds=thresholds,
            crisis_terms=tuple(t.crisis_terms),
            policy=t.policy,
            poll_seconds=int(t.poll_seconds),
        )
        try:  # what the schema cannot see: combinations the detector refuses
            topic.detection_settings()
        except (TypeError, ValueError) as exc:
            raise _fail(lines, path, ("topics", i, "thresholds"), str(exc)) from None
        topics[t.name] = topic
    people = {
        pid: Person(
            id=pid,
            name=p.name or pid,
            email=p.email,
            phone=p.phone,
            role=p.role,
            slack_user_id=p.slack_user_id,
            teams=p.teams,
        )
        for pid, p in root.people.items()
    }
    groups = {g: tuple(members) for g, members in root.groups.items()}
    for g, members in groups.items():
        for member in members:
            if member not in people:
                raise _fail(
                    lines,
                    path,
                    ("groups", g),
                    f"unknown person {member!r} (define [people.{member}])",
                )
    policies = {
        name: Policy(
            name=name,
            steps=tuple(
                Step(
                    after_minutes=float(s.after_minutes),
                    notify=tuple(s.notify),
                    channels=tuple(s.channels),
                    role=s.role if s.role is not None else ("on-call" if j == 0 else "leadership"),
                )
                for j, s in enumerate(p.steps)
            ),
            severe_at=p.severe_at,
            repeat_minutes=float(p.repeat_minutes),
            auto_resolve_minutes=float(p.auto_resolve_minutes),
            reopen_minutes=float(p.reopen_minutes),
        )
        for name, p in root.policies.items()
    }
    oncall = parse_oncall(raw_schedules, raw_people, people, root.tocsin.timezone, ctx.fail)
    if DEFAULT_POLICY not in policies:
        policies[DEFAULT_POLICY] = default_policy()
        # The built-in policy pages the groups "oncall" then "leadership". Where the file does not
        # define them, stand-ins on the console channel keep a minimal config runnable.
        for stand_in in default_config().people.values():
            if stand_in.id not in groups and stand_in.id not in people:
                people[stand_in.id] = stand_in
                groups[stand_in.id] = (stand_in.id,)
    channels = {"console": Channel("console", "console")}
    for name, raw in root.channels.items():
        channels[name] = Channel(
            name, str(raw["type"]), {k: v for k, v in raw.items() if k != "type"}
        )

    # Cross-references: every name used must be defined, so a typo fails now, not at 3 a.m.
    for i, t in enumerate(root.topics):
        if t.policy not in policies:
            err = ConfigError(
                path,
                f"topics.{t.name}.policy",
                f"unknown policy {t.policy!r}",
                lines.line_of(("topics", i, "policy")),
            )
            raise err
    for p in policies.values():
        for j, step in enumerate(p.steps):
            loc: tuple[str | int, ...] = ("policies", p.name, "steps", j)
            for target in step.notify:
                if target.startswith("schedule:") and target[9:] in oncall.schedules:
                    continue
                if target not in people and target not in groups:
                    raise _fail(
                        lines,
                        path,
                        (*loc, "notify"),
                        f"unknown person, group or schedule {target!r}",
                    )
            for ch in step.channels:
                if ch not in channels:
                    raise _fail(
                        lines,
                        path,
                        (*loc, "channels"),
                        f"unknown channel {ch!r} (define [channels.{ch}])",
                    )
    config = Config(
        path=path,
        topics=topics,
        people=people,
        groups=groups,
        policies=policies,
        channels=channels,
        timezone=root.tocsin.timezone,
        bucket_minutes=root.tocsin.bucket_minutes,
        sections=sections,
        oncall=oncall,
        sources=parse_sources(ctx, raw_sources),
    )
    # A section may check its names against the rest: `cross_check(config)` returns
    # (key path inside the section, reason) for the first problem, or None.
    for key, section in sections.items():
        check = getattr(section, "cross_check", None)
        problem = check(config) if callable(check) else None
        if problem:
            where, reason = problem
            raise _fail(lines, path, (key, *where), reason)
    return config
