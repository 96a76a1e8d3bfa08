"""How bad a signal is: SEV1 (worst) … SEV4, and the amplifiers that raise it.

The base severity comes from the size of the rise and how negative it is (docs/detection.md).
Amplifiers — crisis words that rose, a rise on two or more platforms, news pickup, negative
authors whose followers add up to a large audience — each raise a volume or negative signal by
one level, two at most, never past SEV1, and each adds its clause to the sentence. They raise
only a story that is negative: a viral launch picked up by the news is still good news.
"""

from __future__ import annotations

from dataclasses import replace

from worker.detection import explain
from worker.model import Signal

#: Signal kinds that amplifiers raise.
RAISED = ("volume_spike", "negative_surge")


def severity(ratio: float, neg_share: float, authors: float) -> int:
    """SEV1 … SEV4 from the rise (observed / expected), the negative share and the number of
    distinct authors in the window (one person cannot make a SEV1)."""
    if ratio >= 10 and neg_share >= 0.6 and authors >= 200:
        return 1
    if ratio >= 5 and neg_share >= 0.5:
        return 2
    if ratio >= 3 or neg_share >= 0.5:
        return 3
    return 4


def amplify(signals: list[Signal], notes: list[str], negative: bool) -> list[Signal]:
    """Raise the volume and negative signals by one level per note (two at most) when the story
    is `negative`; otherwise only say what was seen."""
    if not notes:
        return signals
    bump = min(len(notes), 2) if negative else 0
    out: list[Signal] = []
    for sig in signals:
        if sig.kind in RAISED:
            details = dict(sig.evidence.details)
            details["amplifiers"] = notes
            details["severity_before_amplifiers"] = sig.severity
            sig = replace(
                sig,
                severity=max(1, sig.severity - bump),
                explanation=explain.with_notes(sig.explanation, notes),
                evidence=replace(sig.evidence, details=details),
            )
        out.append(sig)
    return out
