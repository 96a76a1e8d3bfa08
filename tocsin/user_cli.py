"""`tocsin user …` and `tocsin token …`: accounts of the web app and their personal API tokens.

    tocsin user add NAME --role viewer|responder|admin   prints a one-time set-password link
    tocsin user list [--json]
    tocsin user reset NAME                               a new set-password link (forgotten one)
    tocsin user role NAME ROLE
    tocsin user disable NAME / tocsin user enable NAME   (`remove` is an alias of `disable`)
    tocsin token create --user NAME                      prints a bearer token, once
    tocsin token revoke --user NAME [--prefix tcn_xxxxxx]

Errors a person can fix (an unknown account, a bad role or name) are one line on stderr with exit
status 2. The link is absolute, under `TOCSIN_BASE_URL`; neither it nor a token is logged.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TextIO

from sqlalchemy.orm import Session


@contextmanager
def _session(database_url: str) -> Iterator[Session]:
    """A transaction on the live database (the embedded SQLite migrates itself)."""
    from worker.settings import SettingsError
    from worker.storage.db import current_revision, make_engine, make_sessionmaker, upgrade

    if database_url.startswith("sqlite"):
        upgrade(database_url)
    elif current_revision(database_url) is None:
        raise SettingsError("TOCSIN_DATABASE_URL: database is empty; run `tocsin db upgrade` first")
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine).begin() as session:
            yield session
    finally:
        engine.dispose()


def _run(
    prog: str,
    argv: Sequence[str],
    build: Callable[[argparse.ArgumentParser], None],
    stdout: TextIO | None,
    stderr: TextIO | None,
) -> int:
    from alerts.auth.accounts import AccountError
    from worker.runtime import utcnow
    from worker.settings import SettingsError, load_settings

    out, err = stdout or sys.stdout, stderr or sys.stderr
    p = argparse.ArgumentParser(prog=prog)
    build(p)
    args = p.parse_args(list(argv))
    try:
        settings = load_settings()
        with _session(settings.database_url) as session:
            return int(args.func(args, session, settings.base_url.rstrip("/"), utcnow(), out))
    except (AccountError, SettingsError) as exc:
        print(f"{prog}: {exc}", file=err)
        return 2


def _user_add(
    args: argparse.Namespace, session: Session, base: str, now: datetime, out: TextIO
) -> int:
    from alerts.auth.accounts import SETUP_VALID, Role, create_user

    role = Role.parse(args.role)
    path = create_user(session, args.name, role, now)
    hours = int(SETUP_VALID.total_seconds() // 3600)
    print(
        f"account {args.name} ({role.name}) created. Send them this link to set a password",
        file=out,
    )
    print(f"(works once, for {hours} hours):", file=out)
    print(f"{base}{path}", file=out)
    return 0


def _user_reset(
    args: argparse.Namespace, session: Session, base: str, now: datetime, out: TextIO
) -> int:
    from alerts.auth.accounts import SETUP_VALID, reset_link

    path = reset_link(session, args.name, now)
    hours = int(SETUP_VALID.total_seconds() // 3600)
    print(f"set-password link for {args.name} (works once, for {hours} hours):", file=out)
    print(f"{base}{path}", file=out)
    return 0


def _user_list(
    args: argparse.Namespace, session: Session, base: str, now: datetime, out: TextIO
) -> int:
    from alerts.auth.accounts import list_users

    rows = list_users(session)
    if args.json:
        print(json.dumps(rows, indent=2), file=out)
        return 0
    if not rows:
        print("no accounts yet (tocsin user add NAME --role admin)", file=out)
    for r in rows:
        state = "disabled" if r["disabled"] else ("active" if r["password_set"] else "invited")
        print(f"{r['name']:<24} {r['role']:<10} {state:<8} tokens: {r['tokens']}", file=out)
    return 0


def _user_role(
    args: argparse.Namespace, session: Session, base: str, now: datetime, out: TextIO
) -> int:
    from alerts.auth.accounts import Role, set_role

    role = Role.parse(args.role)
    set_role(session, args.name, role)
    print(f"account {args.name} is now {role.name}", file=out)
    return 0


def _user_disable(
    args: argparse.Namespace, session: Session, base: str, now: datetime, out: TextIO
) -> int:
    from alerts.auth.accounts import disable_user

    disable_user(session, args.name)
    print(f"account {args.name} disabled (logged out, tokens stop working)", file=out)
    return 0


def _user_enable(
    args: argparse.Namespace, session: Session, base: str, now: datetime, out: TextIO
) -> int:
    from alerts.auth.accounts import enable_user

    enable_user(session, args.name)
    print(f"account {args.name} enabled", file=out)
    return 0


def _build_user(p: argparse.ArgumentParser) -> None:
    p.description = "Accounts of the web app and the API."
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    s = sub.add_parser("add", help="add an account; prints a one-time set-password link")
    s.add_argument("name")
    s.add_argument("--role", required=True, help="viewer, responder or admin")
    s.set_defaults(func=_user_add)
    s = sub.add_parser("list", help="every account, its role and state")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=_user_list)
    s = sub.add_parser("reset", help="a new one-time set-password link")
    s.add_argument("name")
    s.set_defaults(func=_user_reset)
    s = sub.add_parser("role", help="change an account's role")
    s.add_argument("name")
    s.add_argument("role", help="viewer, responder or admin")
    s.set_defaults(func=_user_role)
    for name in ("disable", "remove"):
        s = sub.add_parser(name, help="disable an account (its name stays in the audit trail)")
        s.add_argument("name")
        s.set_defaults(func=_user_disable)
    s = sub.add_parser("enable", help="enable a disabled account again")
    s.add_argument("name")
    s.set_defaults(func=_user_enable)


def _token_create(
    args: argparse.Namespace, session: Session, base: str, now: datetime, out: TextIO
) -> int:
    from alerts.auth.accounts import create_token

    token = create_token(session, args.user, now)
    print(f"personal token for {args.user} (shown once; send it as `Authorization: Bearer …`):",
          file=out)  # fmt: skip
    print(token, file=out)
    return 0


def _token_revoke(
    args: argparse.Namespace, session: Session, base: str, now: datetime, out: TextIO
) -> int:
    from alerts.auth.accounts import revoke_tokens

    n = revoke_tokens(session, args.user, now, prefix=args.prefix)
    print(f"revoked {n} token(s) of {args.user}", file=out)
    return 0


def _build_token(p: argparse.ArgumentParser) -> None:
    p.description = "Personal bearer tokens for /api/v1 (they act with their account's role)."
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    s = sub.add_parser("create", help="a new token, printed once")
    s.add_argument("--user", required=True)
    s.set_defaults(func=_token_create)
    s = sub.add_parser("revoke", help="revoke an account's tokens")
    s.add_argument("--user", required=True)
    s.add_argument("--prefix", help="only the token starting with this (e.g. tcn_AbC123)")
    s.set_defaults(func=_token_revoke)


def user_main(
    argv: Sequence[str], stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    return _run("tocsin user", argv, _build_user, stdout, stderr)


def token_main(
    argv: Sequence[str], stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    return _run("tocsin token", argv, _build_token, stdout, stderr)
