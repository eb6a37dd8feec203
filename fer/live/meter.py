"""Rates and ages over a sliding time window: what the read-outs show and the tests check.

A window (not an average over all time, nor an exponential one) makes a stalled stream read 0
within `window_s` instead of showing its last rate forever, and makes two read-outs of the same
meter agree.
"""

from __future__ import annotations

import threading
from collections import deque


class RateMeter:
    """Events per second over the last `window_s` seconds."""

    def __init__(self, window_s: float = 2.0) -> None:
        self.window_s = window_s
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def tick(self, t: float) -> None:
        with self._lock:
            self._times.append(t)
            self._trim(t)

    def _trim(self, now: float) -> None:
        while self._times and now - self._times[0] > self.window_s:
            self._times.popleft()

    def rate(self, now: float) -> float:
        """Events per second at `now` (0 when nothing happened within the window)."""
        with self._lock:
            self._trim(now)
            n = len(self._times)
            if n < 2:
                return 0.0
            span = max(now - self._times[0], self._times[-1] - self._times[0])
            return (n - 1) / span if span > 0 else 0.0
