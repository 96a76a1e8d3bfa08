"""Error reporting: Sentry when a DSN is configured, nothing otherwise."""

from __future__ import annotations

from worker.settings import load_settings


def init_sentry(dsn: str | None = None) -> bool:
    dsn = dsn or load_settings().sentry_dsn
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration

    # Mention text can be quoted in exceptions; never send request bodies or local variables.
    sentry_sdk.init(
        dsn=dsn,
        integrations=[CeleryIntegration()],
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
    )
    return True
