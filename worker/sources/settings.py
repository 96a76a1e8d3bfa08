"""`[sources.NAME]` tables of tocsin.toml: each platform's base URL and the *names* of the
environment variables that hold its secrets (never the secrets), validated at start.

    [sources.x]
    token_env = "X_BEARER_TOKEN"
    [sources.mastodon]
    base_url = "https://fosstodon.org"
    token_env = "MASTODON_TOKEN"      # optional: enables status search besides hashtags
    [sources.push.zapier]
    token_env = "TOCSIN_PUSH_ZAPIER"   # or secret_env for an HMAC signature
    topic = "lumio"

Every `base_url` defaults to the platform's public API root and is what the documented path is
appended to; it may carry a path prefix (`http://127.0.0.1:8123/x`). `worker.config` calls
`parse_sources()` and keeps the result in `Config.sources`; connectors get it through
`context_for()`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from worker.sources.base import SourceContext

if TYPE_CHECKING:
    from worker.config import Config, _Ctx


class _Platform(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str

    @field_validator("base_url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"must be an http:// or https:// URL, got {value!r}")
        return value.rstrip("/")


class MastodonSettings(_Platform):
    base_url: str = "https://mastodon.social"
    token_env: str | None = None


class BlueskySettings(_Platform):
    base_url: str = "https://bsky.social"
    identifier_env: str = "BLUESKY_IDENTIFIER"
    app_password_env: str = "BLUESKY_APP_PASSWORD"  # noqa: S105 - a variable name


class RedditSettings(_Platform):
    base_url: str = "https://oauth.reddit.com"
    auth_url: str = "https://www.reddit.com"
    client_id_env: str = "REDDIT_CLIENT_ID"
    client_secret_env: str = "REDDIT_CLIENT_SECRET"  # noqa: S105 - a variable name
    #: Reddit asks for `<platform>:<app ID>:<version> (by /u/<username>)`; generic ones are throttled.
    user_agent: str = "server:tocsin:0.1 (by /u/tocsin)"

    @field_validator("auth_url")
    @classmethod
    def _auth_http(cls, value: str) -> str:
        return cls._http(value)


class XSettings(_Platform):
    base_url: str = "https://api.x.com"
    token_env: str = "X_BEARER_TOKEN"  # noqa: S105 - a variable name


class HackerNewsSettings(_Platform):
    base_url: str = "https://hn.algolia.com"
    #: Algolia's published limit per IP; there are no headers, so tocsin counts itself.
    requests_per_hour: int = Field(10_000, ge=1)


class YouTubeSettings(_Platform):
    base_url: str = "https://www.googleapis.com"
    api_key_env: str = "YOUTUBE_API_KEY"
    #: search.list has its own daily bucket (100 calls by default), reset at midnight Pacific.
    search_calls_per_day: int = Field(100, ge=1)
    #: Everything else (commentThreads.list costs 1 unit) comes out of 10,000 units a day.
    units_per_day: int = Field(10_000, ge=1)


class AppStoreSettings(_Platform):
    base_url: str = "https://itunes.apple.com"
    country: str = Field("us", pattern=r"^[a-z]{2}$")


class GoogleNewsSettings(_Platform):
    base_url: str = "https://news.google.com"
    hl: str = "en-US"
    gl: str = "US"
    ceid: str = "US:en"


class RSSSettings(_Platform):
    base_url: str = ""

    @field_validator("base_url")
    @classmethod
    def _http(cls, value: str) -> str:  # feeds carry their own URLs
        return value


class PushSource(BaseModel):
    """One tool allowed to POST /api/mentions: a bearer token or an HMAC secret, from env."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token_env: str | None = None
    secret_env: str | None = None
    #: Topic for records that name none.
    topic: str | None = None


SETTINGS: dict[str, type[_Platform]] = {
    "mastodon": MastodonSettings,
    "bluesky": BlueskySettings,
    "reddit": RedditSettings,
    "x": XSettings,
    "hackernews": HackerNewsSettings,
    "youtube": YouTubeSettings,
    "appstore": AppStoreSettings,
    "googlenews": GoogleNewsSettings,
    "rss": RSSSettings,
}


def parse_sources(ctx: _Ctx, raw: Any) -> dict[str, Any]:
    """Validate `[sources]`: platform name → settings model; `push` → {name: PushSource}."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ctx.fail("sources", f"must be a table, got {type(raw).__name__}")
    out: dict[str, Any] = {}
    for name, table in raw.items():
        where = f"sources.{name}"
        if not isinstance(table, dict):
            raise ctx.fail(where, f"must be a table, got {type(table).__name__}", "sources", name)
        if name == "push":
            out["push"] = {
                pname: _model(ctx, PushSource, ptable, f"{where}.{pname}", name, pname)
                for pname, ptable in table.items()
            }
            for pname, p in out["push"].items():
                if not (p.token_env or p.secret_env):
                    raise ctx.fail(f"{where}.{pname}", "needs token_env or secret_env", name, pname)
            continue
        model = SETTINGS.get(name)
        if model is None:
            raise ctx.fail(
                where,
                f"unknown source (known: {', '.join(sorted([*SETTINGS, 'push']))})",
                "sources",
                name,
            )
        out[name] = _model(ctx, model, table, where, "sources", name)
    return out


def _model(ctx: _Ctx, model: type[BaseModel], table: Any, where: str, *needles: str) -> Any:
    if not isinstance(table, dict):
        raise ctx.fail(where, f"must be a table, got {type(table).__name__}", *needles)
    try:
        return model(**table)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            allowed = ", ".join(sorted(model.model_fields))
            msg = f"unknown key (expected one of: {allowed})"
        raise ctx.fail(f"{where}.{loc}", msg, *needles, loc) from None


def settings_for(config: Config | None, platform: str) -> _Platform:
    sources: Mapping[str, Any] = getattr(config, "sources", None) or {}
    found = sources.get(platform)
    if found is not None:
        return found
    return SETTINGS.get(platform, RSSSettings)()  # type: ignore[call-arg]


def context_for(
    config: Config | None, platform: str, env: Mapping[str, str] | None = None
) -> SourceContext:
    """What a connector needs to reach `platform`: base URL, options, the environment."""
    s = settings_for(config, platform)
    return SourceContext(
        platform=platform,
        base_url=s.base_url,
        options=s.model_dump(),
        env=os.environ if env is None else env,
    )


def push_sources(config: Config | None) -> Mapping[str, PushSource]:
    sources: Mapping[str, Any] = getattr(config, "sources", None) or {}
    return sources.get("push") or {}


__all__ = ["SETTINGS", "PushSource", "context_for", "parse_sources", "settings_for"]
