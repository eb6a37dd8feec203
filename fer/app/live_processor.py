"""The live view's WebRTC video processor: each frame goes back at once with the newest analysis.

`recv` runs in streamlit-webrtc's media thread. It hands the frame to this stream's analysis
worker (a separate process, `fer.live.worker`) and draws the newest result the worker has sent,
fading it as it ages (`fer.live.overlay`). It never waits for the analysis, so the video keeps
the camera's rate however slow the analysis is. It never calls `st.*`: the page reads the
`LiveSnapshot` it publishes into a one-slot holder.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import av
import numpy as np
from streamlit_webrtc import VideoProcessorBase

from fer.annotate import EmotionAnnotator, StatusAnnotator
from fer.live.mailbox import LatestSlot
from fer.live.meter import RateMeter
from fer.live.overlay import LiveSnapshot, LiveStats, overlay_opacity
from fer.live.pool import Lease, WorkerPool
from fer.live.worker import AnalyserSpec, LiveResult
from fer.scenecut import SceneCutDetector


@dataclass(frozen=True)
class ViewSettings:
    """How results are drawn; changes take effect on the next frame, with no worker restart."""

    uncertain_below: float = 0.4
    show_landmarks: bool = False


class EmotionVideoProcessor(VideoProcessorBase):
    def __init__(self, pool: WorkerPool, spec: AnalyserSpec, view: ViewSettings,
                 holder: LatestSlot[LiveSnapshot]) -> None:
        self.pool = pool
        self.spec = spec
        self.view = view
        self.holder = holder
        self.video_rate = RateMeter()
        self.analysis_rate = RateMeter()
        self._last_seq = -1
        self.cuts = SceneCutDetector()  # a new shot (a camera switch, a looped clip) ends old results
        self._cut_t = -math.inf
        self._ended = False
        self.lease: Lease | None = pool.lease(spec)

    @property
    def refused(self) -> bool:
        """No analysis for this stream: every live slot of the server is in use."""
        return self.lease is None or self.lease.revoked

    def configure(self, spec: AnalyserSpec, view: ViewSettings) -> None:
        """Called from the page on every rerun; the worker rebuilds only what changed."""
        self.view = view
        if spec != self.spec:
            self.spec = spec
            if not self.refused:
                self.lease.worker.configure(spec)

    def analyse_frame(self, rgb: np.ndarray, now: float) -> np.ndarray:
        """Submit `rgb` for analysis and draw on it (in place) the newest result and the rates."""
        self.video_rate.tick(now)
        result: LiveResult | None = None
        if not self.refused:
            self.lease.touch()
            self.lease.worker.submit(rgb, now)
            result = self.lease.worker.latest
        if self.cuts.update(rgb):
            self._cut_t = now
        if result is not None and result.t < self._cut_t:  # analysed before the picture changed shot
            result = None
        if result is not None and result.seq != self._last_seq:
            self._last_seq = result.seq
            self.analysis_rate.tick(result.t)
        age_s = now - result.t if result is not None else math.inf
        opacity = overlay_opacity(age_s) if result is not None else 0.0
        faces = list(result.faces) if result is not None and opacity > 0 else []
        EmotionAnnotator(self.view.uncertain_below, show_landmarks=self.view.show_landmarks).annotate(
            rgb, faces, opacity)
        stats = LiveStats(self.video_rate.rate(now), self.analysis_rate.rate(now),
                          1e3 * age_s if faces else math.nan,
                          result.level if result else 0, result.frame_ms if result else math.nan)
        if self.refused:  # the rates are shown below the video, where they cover no label
            StatusAnnotator().annotate(rgb, "live analysis busy: all streams in use")
        snap = LiveSnapshot(result if faces else None, stats, opacity)
        if self.refused or self._ended:  # a stream without analysis must not overwrite the page's
            return rgb
        self.holder.put(snap)
        return rgb

    def recv(self, frame: av.VideoFrame) -> av.VideoFrame:
        rgb = frame.to_ndarray(format="rgb24")
        return av.VideoFrame.from_ndarray(self.analyse_frame(rgb, time.monotonic()), format="rgb24")

    async def recv_queued(self, frames: list[av.VideoFrame]) -> list[av.VideoFrame]:
        """Only the newest of frames that queued up is processed and returned (no backlog)."""
        return [self.recv(frames[-1])]

    def on_ended(self) -> None:
        self._ended = True
        if self.lease is not None:
            self.pool.release(self.lease)
