"""Accounts, roles, sessions and personal tokens for the web app and `/api/v1` (issue #16).

- `accounts`: roles, principals, creating accounts and personal tokens, argon2 passwords.
- `throttle`: failed logins counted per account name and per client address.
- `web`: `Auth` (who is calling, the page/API dependencies, CSRF) and its pages
  `/login`, `/logout`, `/set-password/{token}`.
"""

from alerts.auth.accounts import AccountError, Principal, Role, create_token, create_user
from alerts.auth.web import Auth, AuthRefusal, refusal_handler

__all__ = [
    "AccountError",
    "Auth",
    "AuthRefusal",
    "Principal",
    "Role",
    "create_token",
    "create_user",
    "refusal_handler",
]
