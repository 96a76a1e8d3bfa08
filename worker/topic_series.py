"""A topic's bucket series kept between evaluations, so a tick costs what is new, not what is old.

`SeriesCache.get(session, topic, now, settings)` returns exactly what a fresh
`worker.pipeline.load_series` + `load_volume_state` would (the tests compare them after random
late mentions), but after the first call it reads only the bucket rows written since the topic's
data version it last saw (`buckets.seq > version`, see `worker.storage.models.TopicState`):

1. Read the topic's current version V (no row: the topic has no data).
2. First call in this process (or another bucket width): load the series over `HISTORY` with one
   column-level query and the stored volume state, as the reference functions do.
   Later calls: read the rows with `seq` above the version seen last time. V was read *before*
   that query, so every row written at V or earlier has been seen; a row newer than V may be read
   twice, which is harmless (the same values are written again). A batch of topics
   (`worker.pipeline.evaluate_topics`) reads these rows, and the new recent mentions, for all
   its topics with one statement each (`SeriesCache.prefetch`), in the same transaction.
3. Move the window: drop buckets older than `HISTORY`, append the buckets completed since, and
   apply the changed rows (a row of a bucket not complete yet waits in `cells` until it is).
4. The volume detector's state follows: new buckets are unknown, a recounted bucket makes its
   state and every later one unknown (as in `load_volume_state`), and `series.fill` works out
   only those, which are written back to `volume_state` for the next process.

Entries are per (database, topic, bucket width), at most `max_topics` of them (least recently
used first out), so a worker that sees thousands of topics keeps a bounded memory.
"""

from __future__ import annotations

import weakref
from bisect import bisect_left, insort
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy.orm import Session

from worker.detection import series
from worker.detection.core import DetectionSettings, volume_values
from worker.detection.series import VolumeState
from worker.detection.window import Columns
from worker.ingest import bucket_start
from worker.model import Bucket, Mention
from worker.storage.models import BucketRow, MentionRow, TopicState
from worker.storage.queries import MENTION_COLUMNS, mention_from_row

FIELDS = (
    "count",
    "negative",
    "positive",
    "authors",
    "reach",
    "engagement",
    "crisis_terms",
    "texts",
)
Values = tuple[int, ...]
ZERO: Values = (0,) * len(FIELDS)


_B = BucketRow.__table__.c
_COLUMNS = (_B.platform, _B.start, *[_B[f] for f in FIELDS])
# Built once: these run at every tick, where building a statement costs more than running it.
_VERSION = select(TopicState.__table__.c.version).where(
    TopicState.__table__.c.topic == bindparam("topic")
)
_FIRST = select(func.min(_B.start)).where(_B.topic == bindparam("topic"))
_SINCE = select(*_COLUMNS).where(_B.topic == bindparam("topic"), _B.start >= bindparam("lo"))
_CHANGED = select(*_COLUMNS).where(_B.topic == bindparam("topic"), _B.seq > bindparam("seq"))
_M = MentionRow.__table__.c
_RECENT_ALL = select(*MENTION_COLUMNS).where(
    _M.topic == bindparam("topic"), _M.created_at >= bindparam("since")
)
_RECENT_NEW = select(*MENTION_COLUMNS).where(
    _M.topic == bindparam("topic"), _M.seq > bindparam("seq"), _M.created_at >= bindparam("since")
)


#: Topics read by one statement of `SeriesCache.prefetch` at most (two bound values each).
PREFETCH_CHUNK = 100
_MANY: dict[tuple[str, int], Any] = {}


def _many(kind: str, n: int) -> Any:
    """`_CHANGED` (kind "buckets") or `_RECENT_NEW` (kind "mentions") for `n` topics at once:
    the rows of topic t{i} with `seq` above s{i}, for each i (an OR of the one-topic conditions,
    each served by the table's (topic, seq) index). Built once per size."""
    key = (kind, n)
    if key not in _MANY:
        c = _B if kind == "buckets" else _M
        each = or_(
            *(and_(c.topic == bindparam(f"t{i}"), c.seq > bindparam(f"s{i}")) for i in range(n))
        )
        if kind == "buckets":
            _MANY[key] = select(_B.topic, *_COLUMNS).where(each)
        else:
            _MANY[key] = select(*MENTION_COLUMNS).where(each, _M.created_at >= bindparam("since"))
    return _MANY[key]


def _add(a: Values, b: Values, sign: int = 1) -> Values:
    return tuple(x + sign * y for x, y in zip(a, b, strict=True))


def _order(m: Mention) -> tuple[datetime, str, str]:
    return (m.created_at, m.platform, m.id)


def _created(m: Mention) -> datetime:
    return m.created_at


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass
class _Entry:
    bucket_seconds: int
    version: int
    #: Earliest bucket start the topic has data for (the series never starts before it).
    first: datetime
    #: Every known row at or after the window's start, complete or not: (platform, start) → values.
    cells: dict[tuple[str, datetime], Values] = field(default_factory=dict)
    start: datetime | None = None  # first bucket of the lists below
    total: list[Bucket] = field(default_factory=list)
    per: dict[str, list[Bucket]] = field(default_factory=dict)
    #: Per platform, how many of its rows fall inside the window (a platform with none is left
    #: out of `per`, as a fresh load leaves it out).
    present: dict[str, int] = field(default_factory=dict)
    volume: VolumeState | None = None
    #: Rows of buckets not complete yet (after the window's end), placed when the window grows.
    pending: dict[tuple[str, datetime], Values] = field(default_factory=dict)
    #: The first index whose values changed since the volume state was last brought up to date.
    dirty: int | None = None
    #: The recent mentions (see `SeriesCache.recent`): by (platform, id), from `recent_since` on,
    #: complete up to data version `recent_version`.
    recent: dict[tuple[str, str], Mention] = field(default_factory=dict)
    recent_since: datetime | None = None
    recent_version: int = 0
    #: `recent`'s mentions by (created_at, platform, id), oldest first (None: to be sorted).
    recent_order: list[Mention] | None = None
    #: The series' sums as arrays (`window.Columns`), "" for the total and one per platform,
    #: from `columns_start` on (brought up to date in `SeriesCache._columns`).
    columns: dict[str, Columns] = field(default_factory=dict)
    columns_start: datetime | None = None

    @property
    def end(self) -> datetime | None:
        if self.start is None:
            return None
        return self.start + timedelta(seconds=self.bucket_seconds * len(self.total))


@dataclass(frozen=True)
class Loaded:
    """What one evaluation needs: the series (total and per platform) and the volume state."""

    buckets: list[Bucket]
    per_platform: dict[str, list[Bucket]]
    volume: VolumeState | None
    version: int
    #: Bucket rows read from the database for this call (what a test of "a tick costs what is
    #: new" counts).
    rows_read: int
    #: `buckets` and each platform's series as `window.Columns` (the same figures as arrays).
    columns: Columns | None = None
    platform_columns: dict[str, Columns] = field(default_factory=dict)


class SeriesCache:
    def __init__(self, history: timedelta = timedelta(days=28), max_topics: int = 512) -> None:
        self.history = history
        self.max_topics = max_topics
        self._entries: OrderedDict[tuple[str, str, int], _Entry] = OrderedDict()
        #: Rows read ahead by `prefetch` for the calls that follow in the same transaction:
        #: (kind, entry key) → (the version the rows follow, the version read at, the rows).
        self._ahead: dict[tuple[str, tuple[str, str, int]], tuple[int, int, list[Any]]] = {}

    def clear(self) -> None:
        self._entries.clear()
        self._ahead.clear()

    def prefetch(
        self,
        session: Session,
        topics: Sequence[str],
        versions: Mapping[str, int],
        width: int,
        since: datetime,
    ) -> int:
        """Read ahead, for several topics at once, what `get` and `recent` would each read with a
        statement of their own: the bucket rows and the mentions written since the versions
        this process saw (`since`: the earliest `since` any of them will ask `recent` for).
        Two statements per `PREFETCH_CHUNK` topics instead of two per topic; what the calls
        return is the same. Valid only for the calls that follow in this transaction: the
        caller ends it with `forget_prefetched()`. Returns how many rows were read."""
        db = _database(session)
        self._ahead.clear()
        wants: dict[str, list[tuple[tuple[str, str, int], int, int]]] = {
            "buckets": [],
            "mentions": [],
        }
        for topic in dict.fromkeys(topics):
            key = (db, topic, width)
            entry, version = self._entries.get(key), versions.get(topic)
            if entry is None or version is None:
                continue  # a first read (or no data): `get` reads it all
            if version != entry.version:
                wants["buckets"].append((key, entry.version, version))
            if (
                entry.recent_since is not None
                and since >= entry.recent_since
                and version != entry.recent_version
            ):
                wants["mentions"].append((key, entry.recent_version, version))
        read = 0
        for kind, want in wants.items():
            for i in range(0, len(want), PREFETCH_CHUNK):
                chunk = want[i : i + PREFETCH_CHUNK]
                params: dict[str, Any] = {"since": since}
                for j, ((_, topic, _), seen, _) in enumerate(chunk):
                    params[f"t{j}"], params[f"s{j}"] = topic, seen
                by_topic: dict[str, list[Any]] = {}
                for row in session.execute(_many(kind, len(chunk)), params):
                    by_topic.setdefault(row.topic, []).append(
                        row if kind == "mentions" else row[1:]
                    )
                    read += 1
                for key, seen, version in chunk:
                    self._ahead[(kind, key)] = (seen, version, by_topic.get(key[1], []))
        return read

    def forget_prefetched(self) -> None:
        """Drop what `prefetch` read and no call used (its transaction is ending)."""
        self._ahead.clear()

    def _read_ahead(
        self, kind: str, key: tuple[str, str, int], seen: int, version: int
    ) -> list[Any] | None:
        """The rows `prefetch` read for this entry from version `seen` on, at `version` (None:
        not read ahead)."""
        got = self._ahead.pop((kind, key), None)
        return got[2] if got is not None and got[:2] == (seen, version) else None

    def get(
        self,
        session: Session,
        topic: str,
        now: datetime,
        settings: DetectionSettings,
        *,
        versions: Mapping[str, int] | None = None,
        writes: list[dict[str, Any]] | None = None,
    ) -> Loaded:
        """`versions`: the topics' data versions, already read in this transaction (a batch
        reads them with one query; a topic missing from it has no data). `writes`: collect the
        volume-state rows to write instead of writing them (the batch writes them at its end)."""
        width = settings.bucket_seconds
        if versions is None:
            version = session.execute(_VERSION, {"topic": topic}).scalar()
        else:
            version = versions.get(topic)
        if version is None:
            return Loaded([], {}, None, 0, 0)
        key = (_database(session), topic, width)
        entry = self._entries.get(key)
        lo = bucket_start(now - self.history, width)
        if entry is None:
            entry, read = self._cold(session, topic, width, int(version), lo)
            self._entries[key] = entry
            while len(self._entries) > self.max_topics:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(key)
            ahead = self._read_ahead("buckets", key, entry.version, int(version))
            read = self._changes(session, topic, entry, int(version), lo, ahead)
        changed_from = self._move(entry, lo, bucket_start(now, width))
        if not entry.total:
            return Loaded([], {}, None, entry.version, read)
        volume = self._volume(session, topic, entry, changed_from, settings, writes)
        columns = self._columns(entry, changed_from)
        platforms = {p: columns[p] for p in entry.per}
        return Loaded(entry.total, entry.per, volume, entry.version, read, columns[""], platforms)

    def recent(
        self,
        session: Session,
        topic: str,
        since: datetime,
        until: datetime,
        version: int,
        width: int,
        limit: int = 2000,
    ) -> list[Mention]:
        """The topic's mentions in [since, until), newest first (at most `limit`): what
        `worker.pipeline.recent_mentions` reads, but after the first call only the mentions stored
        since data version `version`'s predecessor are read (`mentions.seq`)."""
        from worker.pipeline import recent_mentions

        at = (_database(session), topic, width)
        entry = self._entries.get(at)
        if entry is None:  # not kept (evicted, or get() was not called): read it all
            return recent_mentions(session, topic, since, until, limit)
        ahead = self._read_ahead("mentions", at, entry.recent_version, version)
        rows: Sequence[Any]
        if entry.recent_since is None or since < entry.recent_since:
            rows = session.execute(_RECENT_ALL, {"topic": topic, "since": since}).all()
            entry.recent, entry.recent_order = {}, None
        elif version != entry.recent_version:
            # Read ahead from an earlier `since`: the older ones are dropped below, as any
            # mention that falls out of the window is.
            rows = (
                ahead
                if ahead is not None
                else session.execute(
                    _RECENT_NEW, {"topic": topic, "since": since, "seq": entry.recent_version}
                ).all()
            )
        else:
            rows = []
        fresh, replaced = [], False
        for row in rows:
            key = (row.platform, row.external_id)
            replaced = replaced or key in entry.recent
            entry.recent[key] = m = mention_from_row(row)
            fresh.append(m)
        entry.recent_since, entry.recent_version = since, version
        # The same mentions in order (oldest first): the new ones put in their places (the
        # order is total: no two mentions share a platform and an id), everything sorted again
        # only when a mention was read a second time or the list was dropped.
        if entry.recent_order is None or replaced:
            entry.recent_order = sorted(entry.recent.values(), key=_order)
        else:
            for m in sorted(fresh, key=_order):
                insort(entry.recent_order, m, key=_order)
        order = entry.recent_order
        gone = bisect_left(order, since, key=_created)
        if gone:
            for m in order[:gone]:
                del entry.recent[(m.platform, m.id)]
            del order[:gone]
        end = bisect_left(order, until, key=_created)
        return order[max(0, end - limit) : end][::-1]

    # --- reading ---------------------------------------------------------------------------

    def _cold(
        self, session: Session, topic: str, width: int, version: int, lo: datetime
    ) -> tuple[_Entry, int]:
        first = session.execute(_FIRST, {"topic": topic}).scalar()
        entry = _Entry(width, version, _utc(first) if first else lo)
        rows = session.execute(_SINCE, {"topic": topic, "lo": lo}).all()
        for platform, start, *values in rows:
            entry.cells[(platform, _utc(start))] = tuple(int(v or 0) for v in values)
        return entry, len(rows)

    def _changes(
        self,
        session: Session,
        topic: str,
        entry: _Entry,
        version: int,
        lo: datetime,
        ahead: list[Any] | None = None,
    ) -> int:
        if version == entry.version:
            return 0
        rows = (
            ahead
            if ahead is not None
            else session.execute(_CHANGED, {"topic": topic, "seq": entry.version}).all()
        )
        entry.version = version
        for platform, start, *raw in rows:
            start = _utc(start)
            values = tuple(int(v or 0) for v in raw)
            entry.first = min(entry.first, start)
            if start >= lo:  # older rows are outside the history the detectors read
                self._set(entry, platform, start, values)
        return len(rows)

    # --- the window ------------------------------------------------------------------------

    def _index(self, entry: _Entry, start: datetime) -> int | None:
        if entry.start is None or entry.end is None or not entry.start <= start < entry.end:
            return None
        return int((start - entry.start).total_seconds()) // entry.bucket_seconds

    def _set(self, entry: _Entry, platform: str, start: datetime, values: Values) -> None:
        """Record one row; if its bucket is inside the window, update the lists in place."""
        old = entry.cells.get((platform, start))
        entry.cells[(platform, start)] = values
        i = self._index(entry, start)
        if i is None:
            if entry.end is None or start >= entry.end:
                entry.pending[(platform, start)] = values
            return
        plat = entry.per.get(platform)
        if plat is None:
            plat = entry.per[platform] = self._zeros(entry.start, len(entry.total), entry)  # type: ignore[arg-type]
        if old is None:
            entry.present[platform] = entry.present.get(platform, 0) + 1
        plat[i] = Bucket(start, *values)
        t = entry.total[i]
        entry.total[i] = Bucket(start, *_add(_add(_values(t), old or ZERO, -1), values))
        entry.dirty = i if entry.dirty is None else min(entry.dirty, i)

    def _zeros(self, start: datetime, n: int, entry: _Entry) -> list[Bucket]:
        step = timedelta(seconds=entry.bucket_seconds)
        return [Bucket(start + k * step) for k in range(n)]

    def _move(self, entry: _Entry, lo: datetime, end: datetime) -> int | None:
        """Slide the window to [max(lo, first), end); return the first index whose values changed
        (None: no change), for the volume state."""
        dirty, entry.dirty = entry.dirty, None
        begin = max(lo, entry.first)
        if begin >= end:
            entry.pending.update(entry.cells)
            entry.start, entry.total, entry.per, entry.present = None, [], {}, {}
            entry.volume = None
            return None
        if entry.start is None or begin < entry.start:
            self._rebuild(entry, begin, end)
            return 0
        step = timedelta(seconds=entry.bucket_seconds)
        # Drop what fell out of the history.
        drop = int((begin - entry.start).total_seconds()) // entry.bucket_seconds
        if drop:
            gone = entry.total[:drop]
            del entry.total[:drop]
            for plat in entry.per.values():
                del plat[:drop]
            for b in gone:
                for platform in list(entry.per):
                    if entry.cells.pop((platform, b.start), None) is not None:
                        entry.present[platform] -= 1
            for platform in [p for p, n in entry.present.items() if n <= 0]:
                entry.per.pop(platform, None)
                entry.present.pop(platform, None)
            entry.start = begin
            if entry.volume is not None:
                v = entry.volume
                entry.volume = VolumeState(
                    v.values[drop:],
                    v.expected[drop:],
                    v.spread[drop:],
                    v.surprise[drop:],
                    v.bucket_seconds,
                    series.phase_of(begin.timestamp(), entry.bucket_seconds),
                    begin.timestamp(),
                )
            if dirty is not None:
                dirty = max(0, dirty - drop)
        # Append the buckets completed since, with the rows that were waiting for them.
        old_len = len(entry.total)
        assert entry.start is not None
        new_len = int((end - entry.start).total_seconds()) // entry.bucket_seconds
        if new_len > old_len:
            for k in range(old_len, new_len):
                at = entry.start + k * step
                entry.total.append(Bucket(at))
                for plat in entry.per.values():
                    plat.append(Bucket(at))
            for (p, at), row in sorted(entry.pending.items(), key=lambda kv: kv[0][1]):
                if at < end:
                    del entry.pending[(p, at)]
                    self._place(entry, p, at, row)
            if entry.volume is not None:
                n = new_len - old_len
                grown = volume_values(entry.total[old_len:])
                nan = np.full(n, np.nan)
                v = entry.volume
                entry.volume = VolumeState(
                    np.concatenate([v.values, grown]),
                    np.concatenate([v.expected, nan]),
                    np.concatenate([v.spread, nan]),
                    np.concatenate([v.surprise, nan]),
                    v.bucket_seconds,
                    v.phase,
                    v.epoch0,
                )
        elif new_len < old_len:  # the clock went back (a test): start again
            self._rebuild(entry, begin, end)
            return 0
        return dirty

    def _place(self, entry: _Entry, platform: str, start: datetime, values: Values) -> None:
        """Put a row whose bucket just entered the window into the lists."""
        i = self._index(entry, start)
        if i is None:
            return
        plat = entry.per.get(platform)
        if plat is None:
            plat = entry.per[platform] = self._zeros(entry.start, len(entry.total), entry)  # type: ignore[arg-type]
        entry.present[platform] = entry.present.get(platform, 0) + 1
        plat[i] = Bucket(start, *values)
        entry.total[i] = Bucket(start, *_add(_values(entry.total[i]), values))

    def _rebuild(self, entry: _Entry, begin: datetime, end: datetime) -> None:
        n = int((end - begin).total_seconds()) // entry.bucket_seconds
        entry.start = begin
        entry.total = self._zeros(begin, n, entry)
        entry.per, entry.present, entry.pending = {}, {}, {}
        for key in [k for k in entry.cells if k[1] < begin]:
            del entry.cells[key]
        for (platform, start), values in sorted(entry.cells.items(), key=lambda kv: kv[0][1]):
            if start < end:
                self._place(entry, platform, start, values)
            else:
                entry.pending[(platform, start)] = values
        entry.volume = None

    # --- the columns -----------------------------------------------------------------------

    def _columns(self, entry: _Entry, changed_from: int | None) -> dict[str, Columns]:
        """Bring `entry.columns` up to date with the lists after `_move`: drop what fell out of
        the window, keep what did not change (before `changed_from`), work out the rest."""
        assert entry.start is not None
        old, old_start = entry.columns, entry.columns_start
        drop = 0
        if old_start is None or entry.start < old_start:
            old = {}
        else:
            drop = int((entry.start - old_start).total_seconds()) // entry.bucket_seconds
        n = len(entry.total)
        keep = n if changed_from is None else min(n, changed_from)
        fresh: dict[str, Columns] = {}
        for name, buckets in (("", entry.total), *entry.per.items()):
            prev = old.get(name)
            k = 0 if prev is None else max(0, min(keep, len(prev) - drop))
            if k:
                assert prev is not None
                fresh[name] = prev.part(drop, drop + k).then(Columns.of(buckets[k:]))
            else:
                fresh[name] = Columns.of(buckets)
        entry.columns, entry.columns_start = fresh, entry.start
        return fresh

    # --- the volume state ------------------------------------------------------------------

    def _volume(
        self,
        session: Session,
        topic: str,
        entry: _Entry,
        changed_from: int | None,
        settings: DetectionSettings,
        writes: list[dict[str, Any]] | None = None,
    ) -> VolumeState:
        from worker.pipeline import load_volume_state, store_volume_state

        if entry.volume is None:
            entry.volume = load_volume_state(session, topic, entry.total, settings, writes)
            return entry.volume
        state = entry.volume
        if changed_from is not None:
            fresh = volume_values(entry.total[changed_from:])
            diff = np.flatnonzero(fresh != state.values[changed_from:])
            if len(diff):
                k = changed_from + int(diff[0])
                state.values[changed_from:] = fresh
                state.expected[k:] = state.spread[k:] = state.surprise[k:] = np.nan
        filled = series.fill(state, settings.series_settings)
        if len(filled):
            store_volume_state(session, topic, entry.total, state, filled, writes)
        return state


#: The database's URL as the cache's key, per engine (its text is worked out once, not at every
#: evaluation: rendering a URL costs more than a warm evaluation's bookkeeping).
_URLS: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def _database(session: Session) -> str:
    engine = session.get_bind().engine
    url = _URLS.get(engine)
    if url is None:
        url = _URLS[engine] = str(engine.url)
    return url


def _values(b: Bucket) -> Values:
    return tuple(getattr(b, f) for f in FIELDS)


def describe(loaded: Loaded) -> dict[str, Any]:
    """A short summary for logs: how many buckets, platforms and rows read."""
    return {
        "buckets": len(loaded.buckets),
        "platforms": sorted(loaded.per_platform),
        "rows_read": loaded.rows_read,
        "version": loaded.version,
    }
