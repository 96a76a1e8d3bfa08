"""Packet versions: the packet is regenerated when its incident changes, and every version kept.

`refresh_packets(session, config, now)` is the scheduled job (a plain function of now): for each
incident with timeline rows newer than its latest version, build the packet as of `now` and store
it as the next version. Safe to run twice: a second run finds nothing new, and two racing runs
collide on the unique (incident, version) and one of them stores nothing. Which incidents are due
is read first in one statement (`DUE`, each incident's latest timeline row and latest version),
so a tick where nothing changed builds nothing and costs one read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alerts.packets.content import build_packet
from worker.config import Config
from worker.storage.models import Incident, IncidentEvent, PacketVersion

SIGNALS_ONLY_EVERY = timedelta(minutes=30)
#: Incidents open, or resolved this long ago at most, are looked at (their packet may change).
RECENT = timedelta(days=1)

_I = Incident.__table__.c
_E = IncidentEvent.__table__.alias("e").c
_O = IncidentEvent.__table__.alias("o").c
_V = PacketVersion.__table__.c
_LAST_EVENT = (
    select(func.max(_E.id)).where(_E.incident_id == _I.id, _E.at <= bindparam("now"))
).scalar_subquery()


def _latest_version(column: Any) -> Any:
    return (
        select(column)
        .where(_V.incident_id == _I.id)
        .order_by(_V.version.desc())
        .limit(1)
        .scalar_subquery()
    )


#: Per recent incident, what `store_version` decides on, in one read: the latest timeline row as
#: of `now`, the latest row that is not a signals-only `updated` up to it, and the latest
#: version's last row and time. Params: now, since (`now - RECENT`).
DUE = select(
    _I.id,
    _LAST_EVENT,
    select(func.max(_O.id))
    .where(_O.incident_id == _I.id, _O.kind != "updated", _O.id <= _LAST_EVENT)
    .scalar_subquery(),
    _latest_version(_V.last_event_id),
    _latest_version(_V.generated_at),
).where(or_(_I.resolved_at.is_(None), _I.resolved_at >= bindparam("since")))


def moved(
    last_event: int | None,
    last_other: int | None,
    previous_event: int | None,
    previous_at: datetime | None,
    now: datetime,
) -> bool:
    """Whether an incident's timeline moved enough for a new packet version: it has a row
    (`last_event`, the latest as of now) after the latest version's last one (`previous_event`,
    None: no version yet), and either one of them is not a signals-only `updated` row
    (`last_other`, the latest such row up to `last_event`: opened, paged, acknowledged, severity
    raised, a note...) or the latest version is `SIGNALS_ONLY_EVERY` old (new signals alone
    refresh the packet at most that often)."""
    if last_event is None:
        return False
    if previous_event is None or previous_at is None:
        return True
    if previous_event >= last_event:
        return False
    other_rows = last_other is not None and last_other > previous_event
    return other_rows or now - previous_at >= SIGNALS_ONLY_EVERY


def due_incidents(rows: Iterable[Sequence[Any]], now: datetime) -> list[int]:
    """The incidents of `DUE`'s rows that `store_version` would keep a new version of now."""
    return [
        int(incident_id)
        for incident_id, last_event, last_other, previous_event, previous_at in rows
        if moved(last_event, last_other, previous_event, previous_at, now)
    ]


def latest_version(session: Session, incident_id: int) -> PacketVersion | None:
    return session.scalars(
        select(PacketVersion)
        .where(PacketVersion.incident_id == incident_id)
        .order_by(PacketVersion.version.desc())
        .limit(1)
    ).first()


def list_versions(session: Session, incident_id: int) -> list[dict[str, Any]]:
    return [
        {"version": v.version, "generated_at": v.generated_at.isoformat()}
        for v in session.scalars(
            select(PacketVersion)
            .where(PacketVersion.incident_id == incident_id)
            .order_by(PacketVersion.version)
        )
    ]


def get_version(session: Session, incident_id: int, version: int) -> dict[str, Any] | None:
    row = session.scalars(
        select(PacketVersion).where(
            PacketVersion.incident_id == incident_id, PacketVersion.version == version
        )
    ).first()
    return dict(row.content) if row else None


def store_version(
    session: Session, config: Config, incident_id: int, now: datetime
) -> PacketVersion | None:
    """Build the packet as of `now` and keep it as the next version, if the timeline moved."""
    last_event = session.scalar(
        select(func.max(IncidentEvent.id)).where(
            IncidentEvent.incident_id == incident_id, IncidentEvent.at <= now
        )
    )
    if last_event is None:
        return None
    # The latest version's bookkeeping only (its content, the whole packet, is not needed here).
    previous = session.execute(
        select(PacketVersion.version, PacketVersion.last_event_id, PacketVersion.generated_at)
        .where(PacketVersion.incident_id == incident_id)
        .order_by(PacketVersion.version.desc())
        .limit(1)
    ).first()
    last_other = None
    if previous is not None and previous.last_event_id < last_event:
        last_other = session.scalar(
            select(func.max(IncidentEvent.id)).where(
                IncidentEvent.incident_id == incident_id,
                IncidentEvent.id <= last_event,
                IncidentEvent.kind != "updated",
            )
        )
    if not moved(
        last_event,
        last_other,
        previous.last_event_id if previous else None,
        previous.generated_at if previous else None,
        now,
    ):
        return None
    packet = build_packet(session, incident_id, now, config.timezone, config)
    row = PacketVersion(
        incident_id=incident_id,
        version=(previous.version + 1) if previous else 1,
        generated_at=now,
        last_event_id=int(last_event),
        content=packet,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:  # another worker stored this version first
        return None
    return row


def briefing_version(
    session: Session, config: Config, incident_id: int, now: datetime
) -> PacketVersion:
    """The version leadership is briefed with at `now`: kept whatever changed since the last one
    (mentions counted since then change the packet too), so what an executive was told is always
    one of the kept versions. Two briefings in one tick share one version."""
    previous = latest_version(session, incident_id)
    if previous is not None and previous.generated_at == now:
        return previous
    last_event = session.scalar(
        select(func.max(IncidentEvent.id)).where(
            IncidentEvent.incident_id == incident_id, IncidentEvent.at <= now
        )
    )
    row = PacketVersion(
        incident_id=incident_id,
        version=(previous.version + 1) if previous else 1,
        generated_at=now,
        last_event_id=int(last_event or 0),
        content=build_packet(session, incident_id, now, config.timezone, config),
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:  # another worker kept this version first: brief with that one
        latest = latest_version(session, incident_id)
        assert latest is not None
        return latest
    return row


def refresh_packets(session: Session, config: Config, now: datetime) -> int:
    """The job: a new version for every incident whose timeline changed. Returns how many.

    Only incidents open now or resolved in the last day are looked at, and a packet is built only
    for those whose timeline moved, so a tick costs what is new, not the whole history."""
    due = due_incidents(session.execute(DUE, {"now": now, "since": now - RECENT}), now)
    return sum(store_version(session, config, i, now) is not None for i in due)
