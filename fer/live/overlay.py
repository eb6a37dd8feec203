"""What the live video shows: the newest analysis, fading as it ages, and one line of true rates.

An overlay is drawn at full strength while it is under `FRESH_S` old, fades out until
`MAX_AGE_S`, and is not drawn after that: a stalled analysis shows as a fading box, never as a
box that stays on a face that has moved, nor one that vanishes from one frame to the next.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from fer.live.worker import LiveResult

FRESH_S = 0.5
MAX_AGE_S = 1.0


def overlay_opacity(age_s: float, fresh_s: float = FRESH_S, max_age_s: float = MAX_AGE_S) -> float:
    """1 while fresh, linearly down to 0 at `max_age_s`, 0 after."""
    if age_s <= fresh_s:
        return 1.0
    if age_s >= max_age_s:
        return 0.0
    return (max_age_s - age_s) / (max_age_s - fresh_s)


@dataclass(frozen=True)
class LiveStats:
    """The read-outs, measured once per returned frame and shown in the video and on the page alike."""

    video_fps: float  # frames returned to the browser per second (last 2 s)
    analysis_fps: float  # frames analysed per second (last 2 s)
    overlay_age_ms: float  # age of the analysis drawn on the newest frame; nan when none is drawn
    level: int  # load level of the worker (0 = the detection work asked for)
    frame_ms: float  # the worker's wall time for its last frame

    def text(self) -> str:
        age = "-" if math.isnan(self.overlay_age_ms) else f"{self.overlay_age_ms:.0f} ms"
        return (f"video {self.video_fps:.0f} fps | analysis {self.analysis_fps:.1f} fps | overlay {age}"
                + (f" | load {self.level}" if self.level else ""))


@dataclass(frozen=True)
class LiveSnapshot:
    """The analysis the video showed on its newest frame, with the read-outs of that moment; the
    page's panel draws from this same object, so panel and video agree."""

    result: LiveResult | None
    stats: LiveStats
    opacity: float  # how strongly the result was drawn (0: too old, not drawn)
