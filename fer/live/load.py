"""Load control for the live worker: less detection work when the CPU is short, more when free.

The worker times every frame it analyses. When the recent mean exceeds `slow_ms` (the analysis
would fall under ~1000/slow_ms frames/s and the overlay would age), it steps to the next level:
detect less often, at a smaller side, and finally without the per-frame re-check of reused
boxes. After `recover_s` of frames under `fast_ms` it steps back. The levels never go below
the user's own "detect every k frames".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Workload:
    detect_every: int
    detect_side: int  # longer image side for detection, pixels
    recheck_score: float  # 0: no re-check of reused boxes between detections


# From most to least work; the first is the quality the user asked for.
LEVELS: tuple[Workload, ...] = (
    Workload(3, 640, 0.5),
    Workload(3, 480, 0.5),
    Workload(4, 320, 0.5),
    Workload(6, 320, 0.0),
    Workload(10, 320, 0.0),
)


def level_workload(level: int, detect_every: int) -> Workload:
    """The workload at `level`, never detecting more often than the user's `detect_every`."""
    w = LEVELS[max(0, min(level, len(LEVELS) - 1))]
    if level == 0:
        return Workload(max(1, detect_every), w.detect_side, w.recheck_score)
    return Workload(max(w.detect_every, detect_every), w.detect_side, w.recheck_score)


@dataclass
class LoadController:
    slow_ms: float = 70.0  # mean frame cost above this: do less
    fast_ms: float = 30.0  # mean frame cost below this for `recover_s`: do more
    recover_s: float = 3.0
    hold_s: float = 1.0  # at least this long between two changes, so each is measured
    weight: float = 0.2  # of the newest frame in the running mean
    level: int = 0
    mean_ms: float | None = None
    _changed_at: float = float("-inf")
    _fast_since: float | None = None

    def update(self, frame_ms: float, now: float) -> int:
        """Record one analysed frame's wall time; returns the level for the next frame."""
        self.mean_ms = frame_ms if self.mean_ms is None else (1 - self.weight) * self.mean_ms + self.weight * frame_ms
        if now - self._changed_at < self.hold_s:
            return self.level
        if self.mean_ms > self.slow_ms and self.level < len(LEVELS) - 1:
            self._step(+1, now)
        elif self.mean_ms < self.fast_ms and self.level > 0:
            self._fast_since = now if self._fast_since is None else self._fast_since
            if now - self._fast_since >= self.recover_s:
                self._step(-1, now)
        else:
            self._fast_since = None
        return self.level

    def _step(self, delta: int, now: float) -> None:
        self.level += delta
        self._changed_at = now
        self._fast_since = None
        self.mean_ms = None  # measure the new level afresh
