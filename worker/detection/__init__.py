"""Spike detection: see core.py (pure functions over bucket series)."""

from worker.detection.core import DetectionSettings, evaluate, settings_for

__all__ = ["DetectionSettings", "evaluate", "settings_for"]
