"""From a step's targets to pages: who, on which channel, at which address, and when.

Plain functions of the config and `now`, called when a step fires (never when the incident
opens), so a schedule's handoff or an edited group is taken into account at that moment:
1. Each target becomes people: a person id, every member of a group, or whoever the schedule
   (`schedule:NAME`) has on call now. A target that resolves to nobody (a group renamed after
   the incident opened) is a problem, reported, never a silent empty page.
2. Each person × channel becomes an address (`alerts.channels.address_for`). A person with no
   address for the channel gets their next contact method instead (`email`, `phone`,
   `slack_user_id`, `teams`, in that order); with none at all, a problem, and the console.
3. A page falling inside the person's quiet hours waits until they end, unless the incident is
   at or above their `quiet_bypass` severity.
4. Each person gets each channel at most once per step, however many of its targets name them,
   and once per firing: a person who is both paged (on call) and briefed (leadership) by the
   same firing on the same channel gets one message, the page carrying the briefing (`briefs`);
   and a shared destination (a PagerDuty service, a Slack or Teams room without a mention,
   Apprise: `ChannelType.shared`) gets one message per step, however many people it stands for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from alerts.channels import address_for
from alerts.channels.registry import channel_type
from alerts.channels.registry import contact_channels as contact_addresses
from alerts.escalation import Target
from alerts.schedules import on_call
from worker.config import Config, Person
from worker.oncall_config import Availability


@dataclass(frozen=True)
class Page:
    person: Person
    role: str
    channel: str
    address: str
    for_step: int
    #: `now`, or the end of the person's quiet hours.
    deliver_at: datetime
    #: An on-call page that also carries this person's briefing for that step (step 4), and
    #: the briefing's role.
    briefs: int | None = None
    briefs_as: str = ""


@dataclass(frozen=True)
class Plan:
    pages: tuple[Page, ...]
    problems: tuple[str, ...]


def people_for(config: Config, target: str, now: datetime) -> list[Person]:
    """Step 1 for one target (empty when it names nobody)."""
    if target.startswith("schedule:"):
        schedule = config.oncall.schedules.get(target.removeprefix("schedule:"))
        if schedule is None:
            return []
        who = on_call(schedule, now)
        return [config.people[who]] if who in config.people else []
    if target in config.people:
        return [config.people[target]]
    return [config.people[p] for p in config.groups.get(target, ()) if p in config.people]


def contact_channels(config: Config, person: Person) -> list[str]:
    """The configured channels that can reach `person`, in their contact-method order
    (`alerts.channels.registry.CONTACT_KEYS`: each channel type declares the key it serves)."""
    return [name for name, _ in contact_addresses(config, person)]


def quiet_until(avail: Availability, severity: int, now: datetime) -> datetime | None:
    """Step 3: when the person's quiet hours end, if `now` is inside them and the severity does
    not bypass them; else None (page now)."""
    quiet = avail.quiet
    if quiet is None or severity <= avail.bypass:
        return None
    tz = ZoneInfo(avail.timezone)
    local = now.astimezone(tz)
    t = local.time().replace(tzinfo=None)
    if quiet.start < quiet.end:
        inside = quiet.start <= t < quiet.end
    else:  # across midnight, e.g. 22:00-07:00
        inside = t >= quiet.start or t < quiet.end
    if not inside:
        return None
    day = local.date() if t < quiet.end else local.date() + timedelta(days=1)
    return _wall_clock_reaches(day, quiet.end, tz)


def _wall_clock_reaches(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The first instant (UTC) when the local clock of `day` reads `at` or later: `at` itself,
    or, when the clocks jump over it (spring forward), the moment they jump."""
    first = datetime.combine(day, at, tzinfo=tz).astimezone(UTC)  # fold=0: offset before
    if first.astimezone(tz).replace(tzinfo=None) == datetime.combine(day, at):
        return first
    lo = datetime.combine(day, at, tzinfo=tz).replace(fold=1).astimezone(UTC)
    hi = first  # in the gap: the offset changes between lo and hi; find where, to the second
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(tz).utcoffset() == lo.astimezone(tz).utcoffset():
            lo = mid
        else:
            hi = mid
    return hi.replace(microsecond=0) + (timedelta(seconds=1) if hi.microsecond else timedelta(0))


def plan(
    config: Config,
    targets: Sequence[Target],
    severity: int,
    now: datetime,
    *,
    step: int,
    assigned_to: str | None = None,
) -> Plan:
    """Steps 1–4 for the targets of one firing."""
    pages: list[Page] = []
    problems: list[str] = []
    seen: set[tuple[str, str, int]] = set()
    # (channel, address, step) of a shared destination → its page's index in `pages`
    shared: dict[tuple[str, str, int], int] = {}
    for target in targets:
        if assigned_to and target.role == "on-call" and assigned_to in config.people:
            people = [config.people[assigned_to]]  # reassigned: the assignee, not the rota
        else:
            people = people_for(config, target.target, now)
        if not people:
            problems.append(
                f"step {step}: {target.target!r} resolves to nobody "
                "(no such person, group or schedule in tocsin.toml)"
            )
            continue
        for person in people:
            avail = config.oncall.for_person(person.id, config.timezone)
            deliver_at = quiet_until(avail, severity, now) or now
            for wanted in target.channels:
                routed = _route(config, person, wanted, {c for (p, c, _) in seen if p == person.id})
                if routed is None:
                    problems.append(
                        f"step {step}: {person.id} has no address for channel {wanted!r} and no "
                        "other contact method (paged on the console)"
                    )
                    routed = ("console", person.id)
                channel, address = routed
                key = (person.id, channel, target.for_step)
                if key in seen:
                    continue
                seen.add(key)
                page = Page(person, target.role, channel, address, target.for_step, deliver_at)
                if _is_shared(config, channel):
                    where = (channel, address, target.for_step)
                    if where in shared:  # already paged there for someone else: one message,
                        i = shared[where]  # as soon as one of them may be paged
                        if deliver_at < pages[i].deliver_at:
                            pages[i] = page
                        continue
                    shared[where] = len(pages)
                pages.append(page)
    return Plan(_one_message_each(pages), tuple(problems))


def _one_message_each(pages: list[Page]) -> tuple[Page, ...]:
    """Step 4's second half: a briefing to someone this firing also pages on the same channel
    rides on that page (it keeps the acknowledge link and gains the packet)."""
    paged = {(p.person.id, p.channel): i for i, p in enumerate(pages) if p.role == "on-call"}
    out = list(pages)
    merged: set[int] = set()
    for i, p in enumerate(pages):
        j = paged.get((p.person.id, p.channel))
        if p.role != "on-call" and j is not None:
            out[j] = replace(out[j], briefs=p.for_step, briefs_as=p.role)
            merged.add(i)
    return tuple(p for i, p in enumerate(out) if i not in merged)


def _is_shared(config: Config, channel: str) -> bool:
    kind = config.channels.get(channel)
    return kind is not None and channel_type(kind.type).shared


def _route(config: Config, person: Person, wanted: str, used: set[str]) -> tuple[str, str] | None:
    """Step 2: the wanted channel if it reaches the person, else their next contact method
    not already used in this step (else any already used: the person is reached anyway)."""
    address = address_for(config, person, wanted)
    if address:
        return wanted, address
    methods = contact_channels(config, person)
    for name in methods:
        if name not in used:
            return name, str(address_for(config, person, name))
    for name in methods:
        return name, str(address_for(config, person, name))
    return None


__all__ = [
    "Page",
    "Plan",
    "contact_channels",
    "people_for",
    "plan",
    "quiet_until",
]
