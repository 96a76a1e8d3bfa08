"""Spike detection: pure functions over bucket series.

`evaluate()` (core.py) composes one module per detector — volume, negative, reach,
crisis_terms, spread, silence — with `severity` and the sentences of `explain`; `series` is the
volume test that `tocsin detect-series` and NAB measure.
"""

from worker.detection import series
from worker.detection.core import DetectionSettings, evaluate, settings_for

__all__ = ["DetectionSettings", "evaluate", "series", "settings_for"]
