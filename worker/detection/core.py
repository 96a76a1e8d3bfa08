"""`evaluate()`: every live detector over a topic's latest window, composed.

One module per detector, each a pure function of the latest window (`window.Window`):

- `volume` — more distinct authors than usual for this time of day (the NAB-measured series
  detector of `series.py`);
- `negative` — a negative surge, weighed by how many people wrote it;
- `reach` — one negative post from an account with a large audience;
- `crisis_terms` — crisis vocabulary that rose, weighed by authors;
- `spread` — the platforms where the topic is rising, and news pickup;
- `silence` — a platform gone quiet, told apart from a broken source.

`severity` turns the numbers into SEV1…SEV4 and applies the amplifiers (crisis words, spread,
news pickup, reach of the negative authors) to a negative story; `explain` writes the
sentences. Time is an argument; nothing here reads the clock or a database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from worker.detection import (
    crisis_terms,
    explain,
    negative,
    reach,
    series,
    severity,
    silence,
    spread,
)
from worker.detection import volume as volume_detector
from worker.detection.crisis_terms import terms_in
from worker.detection.settings import (
    CRISIS_TERMS_EN,
    CRISIS_TERMS_FR,
    PRESETS,
    DetectionSettings,
    settings_for,
)
from worker.detection.silence import WATCH_KINDS
from worker.detection.spread import NEWS_PLATFORMS
from worker.detection.volume import volume_state, volume_values
from worker.detection.window import Columns, Window
from worker.model import Bucket, Mention, Signal

__all__ = [
    "CRISIS_TERMS_EN",
    "CRISIS_TERMS_FR",
    "NEWS_PLATFORMS",
    "PRESETS",
    "WATCH_KINDS",
    "DetectionSettings",
    "evaluate",
    "settings_for",
    "terms_in",
    "volume_state",
    "volume_values",
]


def evaluate(
    topic: str,
    buckets: Sequence[Bucket],
    now: datetime,
    settings: DetectionSettings,
    *,
    per_platform: Mapping[str, Sequence[Bucket]] | None = None,
    recent_mentions: Sequence[Mention] = (),
    source_health: Mapping[str, bool] | None = None,
    volume: series.VolumeState | None = None,
    tz: str = "UTC",
    columns: Columns | None = None,
    platform_columns: Mapping[str, Columns] | None = None,
) -> list[Signal]:
    """Judge the latest window of `buckets` (ascending, contiguous, completed) and return signals.

    `recent_mentions` are the posts of the longest window (who wrote them, their label and
    followers weigh the negative and crisis-word counts). `tz` is the zone the explanations
    quote times in (`[tocsin] timezone`); it changes no decision. `volume` is the volume
    detector's state for the same buckets (the pipeline keeps it); without it the whole history
    is worked out here, which is exact but costs a pass over the buckets. `columns` and
    `platform_columns` are the same buckets' sums as arrays (`window.Columns`, the pipeline keeps
    them too); they change no figure, only what it costs to sum a week.
    """
    w = Window.of(topic, buckets, settings, recent_mentions, tz, columns)
    if w is None:
        return []
    vol, ratio = volume_detector.detect(w, volume)
    found = [x for x in (vol, negative.detect(w, ratio), reach.detect(w)) if x is not None]
    words = crisis_terms.measure(w)
    rising = spread.rising_platforms(per_platform, w.n, settings, platform_columns)
    notes = []
    if words.rose:
        notes.append(crisis_terms.note(words))
    if len(rising) >= 2:
        notes.append(explain.spread_note(rising))
    if news := spread.news(rising):
        notes.append(explain.news_note(news))
    who = w.negative_voices
    if who.reach >= settings.high_reach_followers and who.authors >= 2:
        notes.append(explain.reach_note(who.authors, who.reach))
    negative_story = (
        w.negative_story or words.rose or any(x.kind == "negative_surge" for x in found)
    )
    signals = severity.amplify(found, notes, negative_story)
    if words.rose and not any(x.kind in severity.RAISED for x in signals):
        signals.append(crisis_terms.signal(w, words, rising))
    signals += silence.detect(w, per_platform, source_health, platform_columns)
    return signals
