"""`tocsin detect-series IN.csv --out OUT.csv` (DESIGN.md): the volume detector alone over a
count series in the Numenta Anomaly Benchmark layout (`timestamp,value`), writing
`timestamp,value,anomaly_score,alert` with the default settings. No labels are read. A series
with fractional values (a measurement, not a count) is judged in units of 1/100 of its median
(`as_counts`); the `value` column is written as read.

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

from worker.detection.series import DEFAULT, detect


class SeriesError(ValueError):
    pass


def read_series(path: Path) -> tuple[list[str], list[float], int]:
    """(timestamps as written, values, bucket width in seconds)."""
    stamps, values, width, _ = read_series_at(path)
    return stamps, values, width


def read_series_at(path: Path) -> tuple[list[str], list[float], int, float]:
    """(timestamps as written, values, bucket width in seconds, first timestamp in epoch
    seconds; a timestamp without an offset is read as UTC)."""
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
    return stamps, values, max(1, width), first.timestamp()


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
    stamps, values, width, epoch0 = read_series_at(src)
    result = detect(as_counts(np.array(values)), width, DEFAULT, epoch0=epoch0)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["timestamp", "value", "anomaly_score", "alert"])
            for t, v, s, a in zip(stamps, values, result.score, result.alert, strict=True):
                w.writerow([t, f"{v:g}", f"{s:.6f}", int(a)])
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return int(result.alert.sum())


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
