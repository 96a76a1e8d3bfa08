"""`tocsin detect-series IN.csv --out OUT.csv` (DESIGN.md): the volume detector alone over a
count series in the Numenta Anomaly Benchmark layout (`timestamp,value`), writing
`timestamp,value,anomaly_score,alert` with the default settings. No labels are read. A series
with fractional values (a measurement, not a count) is judged in units of 1/100 of its median
(`as_counts`); the `value` column is written as read. Rows that are not evenly spaced are
judged on their time grid (`detect_rows`): the detector's durations are in time, not rows.

Bad input stops with the line number and the reason (exit 2) and writes nothing: the output is
written to a temporary file beside OUT and renamed into place only when complete.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from worker.detection.series import DEFAULT, SeriesSettings, detect


class SeriesError(ValueError):
    pass


def read_series(path: Path) -> tuple[list[str], list[float], int]:
    """(timestamps as written, values, bucket width in seconds)."""
    stamps, values, width, _ = read_series_at(path)
    return stamps, values, width


def read_series_at(path: Path) -> tuple[list[str], list[float], int, float]:
    """(timestamps as written, values, bucket width in seconds, first timestamp in epoch
    seconds; a timestamp without an offset is read as UTC)."""
    stamps, values, width, epoch0, _ = read_series_rows(path)
    return stamps, values, width, epoch0


def read_series_rows(path: Path) -> tuple[list[str], list[float], int, float, np.ndarray]:
    """`read_series_at` and each row's time in seconds after the first row."""
    stamps: list[str] = []
    values: list[float] = []
    times: list[datetime] = []
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise SeriesError(f"{path}: empty file")
        cols = [h.strip().lower() for h in header]
        if "timestamp" not in cols or "value" not in cols:
            raise SeriesError(f"{path}:1: header must have 'timestamp' and 'value', got {header}")
        ti, vi = cols.index("timestamp"), cols.index("value")
        for row in reader:
            no = reader.line_num
            if not row or not "".join(row).strip():
                continue
            if len(row) <= max(ti, vi):
                raise SeriesError(f"{path}:{no}: expected {len(header)} columns, got {len(row)}")
            raw_t, raw_v = row[ti].strip(), row[vi].strip()
            try:
                when = datetime.fromisoformat(raw_t)
            except ValueError:
                raise SeriesError(f"{path}:{no}: timestamp {raw_t!r} is not a date-time") from None
            try:
                value = float(raw_v)
            except ValueError:
                raise SeriesError(f"{path}:{no}: value {raw_v!r} is not a number") from None
            if not np.isfinite(value) or value < 0:
                raise SeriesError(f"{path}:{no}: value {raw_v!r} must be a count (0 or more)")
            if times and when <= times[-1]:
                raise SeriesError(f"{path}:{no}: timestamp {raw_t} is not after the previous one")
            stamps.append(raw_t)
            values.append(value)
            times.append(when)
    if not values:
        raise SeriesError(f"{path}: no data rows")
    gaps = np.diff([t.timestamp() for t in times])
    width = round(float(np.median(gaps))) if len(gaps) else 300
    first = times[0] if times[0].tzinfo else times[0].replace(tzinfo=UTC)
    offsets = np.array([(t - times[0]).total_seconds() for t in times])
    return stamps, values, max(1, width), first.timestamp(), offsets


#: A series whose rows would need more than this many buckets each on their time grid (long
#: gaps between rare rows) is judged row by row.
MAX_GRID_PER_ROW = 50


def detect_rows(
    values: np.ndarray,
    offsets: np.ndarray,
    width: int,
    s: SeriesSettings = DEFAULT,
    epoch0: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(anomaly_score, alert) of each row, judged on the rows' time grid.

    The detector reads a bucket's position as its time (yesterday is `per_day` buckets back,
    a window of an hour is an hour of buckets). Rows that are not evenly spaced (a sensor that
    reports every 5 to 15 minutes, a day missing) are placed on a grid of `width`-second
    buckets first; a bucket without a row carries the last value read. Each row then gets the
    highest score, and any alert, of the buckets since the previous row. Evenly spaced rows
    are their own grid: nothing changes for them.
    """
    idx = np.rint(offsets / width).astype(np.int64)
    n = int(idx[-1]) + 1 if len(idx) else 0
    regular = n == len(values) and bool(np.all(np.diff(idx) == 1))
    if regular or n > MAX_GRID_PER_ROW * max(1, len(values)):
        result = detect(values, width, s, epoch0=epoch0)
        return result.score, result.alert
    grid = np.full(n, np.nan)
    grid[idx] = values  # two rows in one bucket: the later one
    have = ~np.isnan(grid)
    grid = grid[np.maximum.accumulate(np.where(have, np.arange(n), 0))]
    result = detect(grid, width, s, epoch0=epoch0)
    start = np.concatenate(([0], idx[:-1] + 1))
    start = np.minimum(start, idx)  # a row sharing its bucket reads that bucket alone
    score = np.array([result.score[a : b + 1].max() for a, b in zip(start, idx, strict=True)])
    alert = np.array(
        [int(result.alert[a : b + 1].any()) for a, b in zip(start, idx, strict=True)],
        dtype=np.int64,
    )
    alert[1:][idx[1:] == idx[:-1]] = 0  # the bucket's alert is told once, on its first row
    return score, alert


#: A series with fractional values is a measurement, not a count: it is judged in units of
#: 1/100 of its median positive value, so the count floor and the Poisson part of the noise
#: (meaningless for a price or a sensor reading) do not decide (docs/detection.md).
MEASUREMENT_SCALE = 100.0


def as_counts(values: np.ndarray) -> np.ndarray:
    """Counts as they are; a measurement series rescaled to `MEASUREMENT_SCALE` × its median."""
    if not np.any(values != np.floor(values)):
        return values
    positive = values[values > 0]
    return values * (MEASUREMENT_SCALE / float(np.median(positive)))


def detect_series(src: Path, out: Path) -> int:
    stamps, values, width, epoch0, offsets = read_series_rows(src)
    score, alert = detect_rows(as_counts(np.array(values)), offsets, width, DEFAULT, epoch0)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["timestamp", "value", "anomaly_score", "alert"])
            for t, v, s, a in zip(stamps, values, score, alert, strict=True):
                w.writerow([t, f"{v:g}", f"{s:.6f}", int(a)])
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return int(alert.sum())


def detect_series_main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(
        prog="tocsin detect-series",
        description="Run the volume detector over a timestamp,value count series.",
    )
    p.add_argument("input", type=Path, help="CSV with timestamp,value columns (NAB layout)")
    p.add_argument("--out", type=Path, required=True, help="where to write the scored CSV")
    args = p.parse_args(list(argv))
    try:
        alerts = detect_series(args.input, args.out)
    except SeriesError as exc:
        print(f"detect-series: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError:
        print(f"detect-series: {args.input}: file not found", file=sys.stderr)
        return 2
    print(f"{alerts} alert(s) written to {args.out}", file=sys.stderr)
    return 0
