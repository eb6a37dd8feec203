"""The live view's WebRTC video processor: each frame goes back at once with the newest analysis.

`recv` runs in streamlit-webrtc's media thread. It hands the frame to this stream's analysis
worker (a separate process, `fer.live.worker`) and draws the newest result the worker has sent,
fading it as it ages (`fer.live.overlay`). It never waits for the analysis, so the video keeps
the camera's rate however slow the analysis is. It never calls `st.*`: the page reads the
`LiveSnapshot` it publishes into a one-slot holder.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from streamlit_webrtc import VideoProcessorBase

from fer.annotate import EmotionAnnotator, StatusAnnotator
from fer.live.mailbox import LatestSlot
from fer.live.meter import RateMeter, ValueWindow
from fer.live.overlay import LiveSnapshot, LiveStats, overlay_opacity
from fer.live.pool import Lease, WorkerPool
from fer.live.worker import AnalyserSpec, LiveResult
from fer.scenecut import SceneCutDetector

REPORT_EVERY = 10  # frames between two progress reports (end-to-end tests only)


@dataclass(frozen=True)
class ViewSettings:
    """How results are drawn; changes take effect on the next frame, with no worker restart."""

    uncertain_below: float = 0.4
    show_landmarks: bool = False


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f"{path.name}.{threading.get_ident()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class EmotionVideoProcessor(VideoProcessorBase):
    def __init__(self, pool: WorkerPool, spec: AnalyserSpec, view: ViewSettings,
                 holder: LatestSlot[LiveSnapshot], counter_path: str | Path | None = None) -> None:
        self.pool = pool
        self.spec = spec
        self.view = view
        self.holder = holder
        self.counter_path = Path(counter_path) if counter_path else None
        self.video_rate = RateMeter()
        self.analysis_rate = RateMeter()
        self.ages_ms = ValueWindow(600)  # the last ~20 s at camera rate
        self.recv_ms = ValueWindow(300)  # this process's own cost per frame (convert, submit, draw)
        self.sent = 0
        self.boxed = 0  # frames returned with a face drawn on them
        self.analysed = 0  # distinct results drawn
        self.track_ids: set[int] = set()
        self._drawn: deque[dict] = deque(maxlen=100)  # what the video showed, for agreement checks
        self._last_seq = -1
        self.cuts = SceneCutDetector()  # a new shot (a camera switch, a looped clip) ends old results
        self._cut_t = -math.inf
        self._last_shape: tuple[int, ...] = ()
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
        self.sent += 1
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
            self.analysed += 1
            self.analysis_rate.tick(result.t)
        age_s = now - result.t if result is not None else math.inf
        opacity = overlay_opacity(age_s) if result is not None else 0.0
        faces = list(result.faces) if result is not None and opacity > 0 else []
        EmotionAnnotator(self.view.uncertain_below, show_landmarks=self.view.show_landmarks).annotate(
            rgb, faces, opacity)
        if faces:
            self.boxed += 1
            self.ages_ms.add(1e3 * age_s)
            self.track_ids.update(f.track_id for f in faces if f.track_id is not None)
        stats = LiveStats(self.video_rate.rate(now), self.analysis_rate.rate(now),
                          1e3 * age_s if faces else math.nan,
                          result.level if result else 0, result.frame_ms if result else math.nan)
        if self.refused:  # the rates are shown below the video, where they cover no label
            StatusAnnotator().annotate(rgb, "live analysis busy: all streams in use")
        snap = LiveSnapshot(result if faces else None, stats, opacity)
        if self.refused or self._ended:  # a stream without analysis must not overwrite the page's
            return rgb
        self.holder.put(snap)
        if faces:
            self._drawn.append({"seq": result.seq, "faces": [
                {"id": f.track_id, "box": [round(float(v)) for v in f.box],
                 "shown": f.shown_label(self.view.uncertain_below),
                 "confidence": f.confidence} for f in faces]})
        self._last_shape = rgb.shape
        if self.counter_path is not None and self.sent % REPORT_EVERY == 0:
            self._report(snap, now)
        return rgb

    def _report(self, snap: LiveSnapshot, now: float) -> None:
        """Progress for the end-to-end tests and the live benchmark, written atomically."""
        faces = snap.result.faces if snap.result else ()
        _write_atomic(self.counter_path, json.dumps({
            "processor": id(self), "t": now, "sent": self.sent, "boxed": self.boxed, "frames": self.analysed,
            "video_fps": round(snap.stats.video_fps, 2), "fps": round(snap.stats.analysis_fps, 2),
            "age_p50_ms": round(self.ages_ms.percentile(50), 1), "age_p95_ms": round(self.ages_ms.percentile(95), 1),
            "level": snap.stats.level, "refused": self.refused,
            "recv_ms_p50": round(self.recv_ms.percentile(50), 2),
            "worker_frame_ms": round(snap.result.frame_ms, 1) if snap.result else None,
            "worker_stages_ms": ({k: round(v, 1) for k, v in vars(snap.result.timings).items()}
                                 if snap.result else None), "track_ids": sorted(self.track_ids),
            "size": [self._last_shape[1], self._last_shape[0]] if self._last_shape else None,
            "faces": len(faces), "shown": [f.shown_label(self.view.uncertain_below) for f in faces],
            "boxes": [[round(float(v), 1) for v in f.box] for f in faces],
            "drawn": list(self._drawn)}))

    def recv(self, frame: av.VideoFrame) -> av.VideoFrame:
        start = time.perf_counter()
        rgb = frame.to_ndarray(format="rgb24")
        out = av.VideoFrame.from_ndarray(self.analyse_frame(rgb, time.monotonic()), format="rgb24")
        self.recv_ms.add(1e3 * (time.perf_counter() - start))
        return out

    async def recv_queued(self, frames: list[av.VideoFrame]) -> list[av.VideoFrame]:
        """Only the newest of frames that queued up is processed and returned (no backlog)."""
        return [self.recv(frames[-1])]

    def on_ended(self) -> None:
        self._ended = True
        if self.lease is not None:
            self.pool.release(self.lease)
