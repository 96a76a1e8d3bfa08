"""The `tocsin` command: the one entry point that reaches both the worker and the alerts sides.

Each sub-command is a small function; errors a user can fix (a bad config, a missing file) are
printed as one line on stderr with exit status 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from worker.config import ConfigError, load_config
from worker.settings import SettingsError, load_settings


def _cmd_db(args: argparse.Namespace) -> int:
    from worker.storage.db import current_revision, upgrade

    settings = load_settings()
    if args.action == "upgrade":
        upgrade(settings.database_url)
        print(
            f"database at revision {current_revision(settings.database_url)}: "
            f"{_safe_url(settings.database_url)}"
        )
    else:
        print(current_revision(settings.database_url) or "empty (run: tocsin db upgrade)")
    return 0


def _safe_url(url: str) -> str:
    """A database URL without its password, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _cmd_check_config(args: argparse.Namespace) -> int:
    path = Path(args.config or load_settings().config_path)
    config = load_config(path)
    queries = sum(len(q) for t in config.topics.values() for q in t.queries.values())
    print(
        f"{path}: ok — {len(config.topics)} topics, {queries} queries, {len(config.people)} people, "
        f"{len(config.policies)} policies, {len(config.channels)} channels"
    )
    return 0


def _cmd_replay(args: argparse.Namespace) -> int:
    from tocsin.replay import replay

    config = load_config(args.config) if args.config else None
    result = replay(Path(args.file), Path(args.out), config)
    print(
        f"replayed {result.mentions} mentions ({result.skipped} lines skipped), "
        f"{result.signals} signals, {len(result.incidents)} incidents, "
        f"{len(result.notifications)} notifications → {args.out}"
    )
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from tocsin.demo import run_demo

    return run_demo(Path(args.out))


def _cmd_import(args: argparse.Namespace) -> int:
    from tocsin.live import import_file

    return import_file(Path(args.file), topic=args.topic, columns=args.columns)


def _cmd_run(args: argparse.Namespace) -> int:
    from tocsin.run import run

    return run(web=not args.no_web, concurrency=args.concurrency)


def _cmd_web(args: argparse.Namespace) -> int:
    from alerts.web import serve
    from worker.runtime import get_runtime

    rt = get_runtime()
    serve(rt, rt.settings.web_host, rt.settings.web_port)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tocsin", description="Crisis monitor for social media teams.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("db", help="database migrations")
    s.add_argument("action", choices=["upgrade", "current"])
    s.set_defaults(func=_cmd_db)

    s = sub.add_parser("check-config", help="validate tocsin.toml without running")
    s.add_argument("config", nargs="?", help="path (default: $TOCSIN_CONFIG or ./tocsin.toml)")
    s.set_defaults(func=_cmd_check_config)

    s = sub.add_parser("run", help="worker + beat + web in one command (embedded defaults)")
    s.add_argument("--no-web", action="store_true", help="do not start the web app")
    s.add_argument("--concurrency", type=int, default=2)
    s.set_defaults(func=_cmd_run)

    s = sub.add_parser("web", help="serve the web app only (ack links, API, dashboard)")
    s.set_defaults(func=_cmd_web)

    s = sub.add_parser("replay", help="run the pipeline over a mentions file on a simulated clock")
    s.add_argument("file")
    s.add_argument("--config")
    s.add_argument("--out", required=True)
    s.set_defaults(func=_cmd_replay)

    s = sub.add_parser("demo", help="replay the shipped crisis scenario and say what happened")
    s.add_argument("--out", default=".tocsin/demo")
    s.set_defaults(func=_cmd_demo)

    s = sub.add_parser("import", help="import a mentions JSONL/CSV file into the live database")
    s.add_argument("file")
    s.add_argument("--topic", help="topic for lines that have none (default: 'default')")
    s.add_argument("--columns", help="CSV column mapping, e.g. 'tweet_id=id,body=text'")
    s.set_defaults(func=_cmd_import)

    # Commands owned by the text and detection packages: parsed there, so their --help is theirs.
    for name, helptext in (
        ("score-text", "score the sentiment of one text a line on stdin"),
        ("detect-series", "run the volume detector over a count series CSV"),
        ("backtest", "replay history and report the alerts thresholds would raise"),
        ("poll", "poll every source once until caught up (--once [--topic T] --json)"),
        ("sources", "each source's health, last success, next poll and budget"),
        ("export", "export stored mentions as Mentions JSONL"),
        ("prune", "delete mentions older than a cut-off (--older-than 90d); buckets are kept"),
    ):
        sub.add_parser(name, help=helptext, add_help=False)
    sub.add_parser(
        "incident", help="open an incident by hand (incident open --topic ...)", add_help=False
    )
    sub.add_parser("incidents", help="list incidents [--all] [--json]", add_help=False)
    sub.add_parser("ack", help="acknowledge an incident", add_help=False)
    sub.add_parser("snooze", help="pause an incident's escalation for --minutes", add_help=False)
    sub.add_parser("resolve", help="resolve an incident by hand", add_help=False)
    sub.add_parser("note", help="add a note to an incident", add_help=False)
    sub.add_parser("reassign", help="hand an incident to a person (--to)", add_help=False)
    sub.add_parser("oncall", help="who is on call [--at ISO] [--json]", add_help=False)
    sub.add_parser("notify", help="notify test --channel NAME --to PERSON", add_help=False)
    sub.add_parser(
        "report", help="weekly summary, monthly report or span follow-up", add_help=False
    )
    sub.add_parser(
        "user",
        help="accounts: user add NAME --role R | list | reset | role | disable",
        add_help=False,
    )
    sub.add_parser(
        "token", help="personal API tokens: token create --user NAME | revoke", add_help=False
    )
    return p


_DELEGATED = {
    "score-text": ("worker.text.cli", "score_text_main"),
    "detect-series": ("worker.detection.cli", "detect_series_main"),
    "backtest": ("tocsin.backtest", "backtest_main"),
    "incident": ("tocsin.incident_cli", "incident_main"),
    "incidents": ("tocsin.incident_cli", "incidents_main"),
    "ack": ("tocsin.incident_cli", "ack_main"),
    "snooze": ("tocsin.incident_cli", "snooze_main"),
    "resolve": ("tocsin.incident_cli", "resolve_main"),
    "note": ("tocsin.incident_cli", "note_main"),
    "reassign": ("tocsin.incident_cli", "reassign_main"),
    "oncall": ("tocsin.incident_cli", "oncall_main"),
    "notify": ("tocsin.notify_cli", "notify_main"),
    "poll": ("tocsin.sources_cli", "poll_main"),
    "sources": ("tocsin.sources_cli", "sources_main"),
    "export": ("tocsin.sources_cli", "export_main"),
    "report": ("tocsin.report_cli", "main"),
    "prune": ("tocsin.prune_cli", "prune_main"),
    "user": ("tocsin.user_cli", "user_main"),
    "token": ("tocsin.user_cli", "token_main"),
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in _DELEGATED:
        import importlib

        module, func = _DELEGATED[argv[0]]
        return int(getattr(importlib.import_module(module), func)(argv[1:]) or 0)
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ConfigError, SettingsError) as exc:
        print(f"tocsin: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"tocsin: {exc.filename}: file not found", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
