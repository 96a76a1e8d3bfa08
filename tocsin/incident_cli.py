"""Responding by hand: `tocsin incident open`, `ack`, `snooze`, `resolve`, `note`, `reassign`,
`incidents` and `oncall`, against the live database and tocsin.toml.

Each command is a `*_main(argv) -> int` registered in `tocsin.cli._DELEGATED`. Exit status: 0 done
(or already so: acting twice is harmless), 1 the incident is not there or not in a state for it,
2 a usage, configuration or settings error (one line on stderr).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from worker.config import ConfigError
from worker.settings import SettingsError

VIA = "cli"


def _who(by: str | None) -> str:
    return (by or getpass.getuser())[:200]


def _guard(run: Callable[[argparse.Namespace], int], parser: argparse.ArgumentParser) -> Any:
    def main(argv: Sequence[str] | None = None) -> int:
        args = parser.parse_args(list(argv or []))
        try:
            return run(args)
        except (ConfigError, SettingsError) as exc:
            print(f"tocsin: {exc}", file=sys.stderr)
            return 2
        except ValueError as exc:
            print(f"tocsin {parser.prog.split()[-1]}: {exc}", file=sys.stderr)
            return 2

    return main


def _runtime() -> Any:
    from tocsin.live import ensure_database
    from worker.runtime import get_runtime

    rt = get_runtime()
    ensure_database(rt)
    return rt


def _now() -> datetime:
    from worker.runtime import utcnow

    return utcnow()


def _by(p: argparse.ArgumentParser) -> None:
    p.add_argument("--by", default=None, help="who does it (default: $USER)")


def _report(incident_id: int, result: Any) -> int:
    value = str(getattr(result, "value", result))
    print(f"incident {incident_id}: {value}")
    return 0 if value in ("done", "unchanged", "acknowledged", "already_acknowledged") else 1


# --- tocsin incident open ----------------------------------------------------------------------

_incident = argparse.ArgumentParser(prog="tocsin incident", description="Open an incident by hand.")
_isub = _incident.add_subparsers(dest="action", required=True, metavar="ACTION")
_open = _isub.add_parser("open", help="open an incident by hand; prints its id")
_open.add_argument("--topic", required=True)
_open.add_argument("--severity", type=int, required=True, choices=[1, 2, 3, 4], help="1 = worst")
_open.add_argument("--title", required=True)
_by(_open)


def _run_incident(args: argparse.Namespace) -> int:
    from alerts.opening import open_by_hand

    rt = _runtime()
    with rt.sessions.begin() as session:
        inc_id, opened = open_by_hand(
            session,
            rt.config,
            topic=args.topic,
            severity=args.severity,
            title=args.title,
            by=_who(args.by),
            via=VIA,
            now=_now(),
        )
    if not opened:
        print(f"tocsin incident: {args.topic} already has open incident {inc_id}", file=sys.stderr)
    print(inc_id)
    return 0


incident_main = _guard(_run_incident, _incident)


# --- tocsin ack / snooze / resolve / note / reassign -------------------------------------------

_ack = argparse.ArgumentParser(prog="tocsin ack", description="Acknowledge an incident.")
_ack.add_argument("incident", type=int)
_by(_ack)


def _run_ack(args: argparse.Namespace) -> int:
    from alerts.actions import acknowledge

    rt = _runtime()
    with rt.sessions.begin() as session:
        result = acknowledge(session, args.incident, by=_who(args.by), via=VIA, now=_now())
    return _report(args.incident, result)


ack_main = _guard(_run_ack, _ack)

_snooze = argparse.ArgumentParser(
    prog="tocsin snooze", description="Pause an incident's escalation; it resumes after."
)
_snooze.add_argument("incident", type=int)
_snooze.add_argument("--minutes", type=float, required=True)
_by(_snooze)


def _run_snooze(args: argparse.Namespace) -> int:
    from alerts.actions import snooze

    rt = _runtime()
    now = _now()
    with rt.sessions.begin() as session:
        result = snooze(
            session, args.incident, minutes=args.minutes, by=_who(args.by), via=VIA, now=now
        )
    code = _report(args.incident, result)
    if code == 0:
        from worker.localtime import show

        until = show(now + timedelta(minutes=args.minutes), rt.config.timezone)
        print(f"escalation resumes {until} unless acknowledged")
    return code


snooze_main = _guard(_run_snooze, _snooze)

_resolve = argparse.ArgumentParser(prog="tocsin resolve", description="Resolve an incident.")
_resolve.add_argument("incident", type=int)
_by(_resolve)


def _run_resolve(args: argparse.Namespace) -> int:
    from alerts.actions import resolve_by_hand

    rt = _runtime()
    with rt.sessions.begin() as session:
        result = resolve_by_hand(session, args.incident, by=_who(args.by), via=VIA, now=_now())
    return _report(args.incident, result)


resolve_main = _guard(_run_resolve, _resolve)

_note = argparse.ArgumentParser(
    prog="tocsin note", description="Add a note to an incident (timeline and briefing packet)."
)
_note.add_argument("incident", type=int)
_note.add_argument("text")
_by(_note)


def _run_note(args: argparse.Namespace) -> int:
    from alerts.actions import add_note

    rt = _runtime()
    with rt.sessions.begin() as session:
        result = add_note(
            session, args.incident, text=args.text, by=_who(args.by), via=VIA, now=_now()
        )
    return _report(args.incident, result)


note_main = _guard(_run_note, _note)

_reassign = argparse.ArgumentParser(
    prog="tocsin reassign", description="Hand an incident to a person (paged now)."
)
_reassign.add_argument("incident", type=int)
_reassign.add_argument("--to", required=True, help="a person id from tocsin.toml")
_by(_reassign)


def _run_reassign(args: argparse.Namespace) -> int:
    from alerts.actions import reassign

    rt = _runtime()
    with rt.sessions.begin() as session:
        result = reassign(
            session, rt.config, args.incident, to=args.to, by=_who(args.by), via=VIA, now=_now()
        )
    return _report(args.incident, result)


reassign_main = _guard(_run_reassign, _reassign)


# --- tocsin incidents ----------------------------------------------------------------------------

JSON_KEYS = (
    "id",
    "topic",
    "title",
    "state",
    "severity",
    "opened_at",
    "acknowledged_at",
    "acknowledged_by",
    "acknowledged_via",
    "resolved_at",
)

_incidents = argparse.ArgumentParser(prog="tocsin incidents", description="List incidents.")
_incidents.add_argument("--all", action="store_true", help="include resolved ones")
_incidents.add_argument("--json", action="store_true", help="a JSON array")
_incidents.add_argument("--limit", type=int, default=200)


def json_row(row: dict[str, Any]) -> dict[str, Any]:
    """The stable JSON shape: severity as SEV1…SEV4, as in the replay's incidents.jsonl."""
    out = {k: row.get(k) for k in JSON_KEYS}
    out["severity"] = f"SEV{row['severity']}"
    return out


def _run_incidents(args: argparse.Namespace) -> int:
    from alerts.queries import list_incidents

    rt = _runtime()
    with rt.sessions() as session:
        rows = list_incidents(session, open_only=not args.all, limit=args.limit)
    if args.json:
        print(json.dumps([json_row(r) for r in rows], ensure_ascii=False, indent=1))
        return 0
    if not rows:
        print("no incidents" if args.all else "no open incidents")
    for r in rows:
        extra = ""
        if r["acknowledged_by"]:
            extra = f"  ack {r['acknowledged_by']} via {r['acknowledged_via']}"
        elif r["snoozed_until"]:
            extra = f"  snoozed until {r['snoozed_until']}"
        print(
            f"#{r['id']}  SEV{r['severity']}  {r['state']:<13} {r['topic']:<16} "
            f"opened {r['opened_at']}  {r.get('title', '')}{extra}"
        )
    return 0


incidents_main = _guard(_run_incidents, _incidents)


# --- tocsin oncall -------------------------------------------------------------------------------

_oncall = argparse.ArgumentParser(prog="tocsin oncall", description="Who is on call.")
_oncall.add_argument("--at", help="an ISO time with offset, e.g. 2026-03-28T20:00+01:00")
_oncall.add_argument("--json", action="store_true", help='{"schedule": "person id", ...}')


def parse_at(value: str | None, now: datetime) -> datetime:
    if value is None:
        return now
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"--at: not an ISO time: {value!r}") from None
    if at.tzinfo is None:
        raise ValueError(f"--at: give the offset too, e.g. {value}+01:00 or {value}Z")
    return at


def _run_oncall(args: argparse.Namespace) -> int:
    from alerts.schedules import on_call_now, shifts
    from worker.localtime import show
    from worker.runtime import get_runtime

    rt = get_runtime()  # reads tocsin.toml only: no database needed
    at = parse_at(args.at, _now())
    who = on_call_now(rt.config, at)
    if args.json:
        print(json.dumps(who, ensure_ascii=False))
        return 0
    if not who:
        print("no schedules in tocsin.toml (add [schedules.NAME])")
    for name, pid in who.items():
        s = rt.config.oncall.schedules[name]
        until = shifts(s, at, at + timedelta(days=366))[0].end
        person = rt.config.people[pid]
        print(f"{name}: {pid} ({person.name}) until {show(until, s.timezone)}")
    return 0


oncall_main = _guard(_run_oncall, _oncall)
