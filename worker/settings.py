"""Process settings: where the data lives, which database and broker, secrets.

Everything comes from the environment (with `NAME_FILE` variants for secrets mounted as files) and
is validated once, when `load_settings()` is called by an entry point. Nothing is read at import time.
What a *team* configures (topics, people, policies) is in `tocsin.toml` instead: see `worker.config`.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


class SettingsError(ValueError):
    """A bad environment value; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    broker_url: str
    secret_key: str
    base_url: str
    config_path: Path
    sentry_dsn: str | None
    web_host: str
    web_port: int

    @property
    def embedded_broker(self) -> bool:
        return self.broker_url.startswith("sqla+sqlite")

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"


def _env(env: Mapping[str, str], name: str) -> str | None:
    """Read NAME, or the contents of the file named by NAME_FILE (Docker/K8s secrets)."""
    value = env.get(name)
    if value:
        return value
    path = env.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SettingsError(f"{name}_FILE: cannot read {path}: {exc.strerror}") from exc
    return None


def _secret_key(env: Mapping[str, str], data_dir: Path) -> str:
    """The key that signs acknowledgement links.

    Production sets TOCSIN_SECRET_KEY. The embedded default makes one on first start and keeps it
    in the data directory, so links sent before a restart still work after it.
    """
    value = _env(env, "TOCSIN_SECRET_KEY")
    if value:
        if len(value) < 16:
            raise SettingsError("TOCSIN_SECRET_KEY: must be at least 16 characters")
        return value
    path = data_dir / "secret.key"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    path.write_text(key, encoding="utf-8")
    path.chmod(0o600)
    return key


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from `env` (default: os.environ); raise SettingsError on a bad value."""
    env = os.environ if env is None else env
    data_dir = Path(_env(env, "TOCSIN_DATA_DIR") or ".tocsin").resolve()
    database_url = _env(env, "TOCSIN_DATABASE_URL") or f"sqlite:///{data_dir / 'tocsin.db'}"
    broker_url = _env(env, "TOCSIN_BROKER_URL") or f"sqla+sqlite:///{data_dir / 'broker.db'}"
    if not database_url.startswith(("sqlite", "postgresql")):
        raise SettingsError(
            f"TOCSIN_DATABASE_URL: expected sqlite:/// or postgresql:// URL, got {database_url!r}"
        )
    if database_url.startswith("postgresql://"):
        # SQLAlchemy's bare postgresql:// means psycopg2; we ship psycopg 3.
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")
    if not broker_url.startswith(("redis://", "rediss://", "amqp://", "sqla+sqlite://")):
        raise SettingsError(
            f"TOCSIN_BROKER_URL: expected redis://, amqp:// or sqla+sqlite:/// URL, got {broker_url!r}"
        )
    port_text = _env(env, "TOCSIN_WEB_PORT") or "8025"
    try:
        web_port = int(port_text)
    except ValueError:
        raise SettingsError(f"TOCSIN_WEB_PORT: expected a port number, got {port_text!r}") from None
    if not 0 <= web_port <= 65535:
        raise SettingsError(f"TOCSIN_WEB_PORT: {web_port} is not a valid port")
    web_host = _env(env, "TOCSIN_WEB_HOST") or "127.0.0.1"
    base_url = (_env(env, "TOCSIN_BASE_URL") or f"http://{web_host}:{web_port}").rstrip("/")
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        broker_url=broker_url,
        secret_key=_secret_key(env, data_dir),
        base_url=base_url,
        config_path=Path(_env(env, "TOCSIN_CONFIG") or "tocsin.toml"),
        sentry_dsn=_env(env, "TOCSIN_SENTRY_DSN") or _env(env, "SENTRY_DSN"),
        web_host=web_host,
        web_port=web_port,
    )
