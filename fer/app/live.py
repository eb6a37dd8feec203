"""The live webcam tab: WebRTC frames -> `EmotionPipeline` -> annotated frames, plus a live chart.

Frames are processed in streamlit-webrtc's worker thread, which hands the processor only the
newest frame (older ones are dropped, never queued), so the video stays in step with the person
however slow the CPU. The processor never calls `st.*`: it publishes its latest result into a
one-slot holder created once per session, and a fragment on the page redraws from it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import av
import numpy as np
import streamlit as st
from streamlit_webrtc import VideoProcessorBase, WebRtcMode, webrtc_streamer

from fer.annotate import EmotionAnnotator
from fer.app.charts import probability_bars
from fer.app.drawing import draw_fps, draw_landmarks, shown_label
from fer.app.resources import get_recognizer
from fer.app.sidebar import AppSettings
from fer.labels import display_name
from fer.pipeline import EmotionPipeline
from fer.recognizer import EmotionRecognizer
from fer.results import FaceEmotion

log = logging.getLogger(__name__)
T = TypeVar("T")

ICE_ENV = "FER_ICE_SERVERS"  # JSON: a list of RTCIceServer dicts, or {"iceServers": [...]}
COUNTER_ENV = "FER_E2E_COUNTER"  # file the processor keeps a frame count in (end-to-end tests)
REFRESH_S = 0.3  # how often the live chart redraws
STALE_AFTER_S = 2.0  # faces analysed longer ago than this are no longer drawn


@dataclass(frozen=True)
class LiveSnapshot:
    """What the page shows beside the video: the latest analysed frame's smoothed faces."""

    frame_index: int
    fps: float  # frames analysed per second
    video_fps: float  # frames sent back per second
    faces: tuple[FaceEmotion, ...]
    t: float  # time.monotonic() of the analysed frame


class LatestSlot(Generic[T]):
    """A thread-safe one-slot mailbox: a writer overwrites, readers see only the newest value.

    Used where a queue would build a backlog: frames waiting for analysis, results for the page.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._value: T | None = None

    def put(self, value: T) -> None:
        with self._cond:
            self._value = value
            self._cond.notify_all()

    def get(self) -> T | None:
        with self._cond:
            return self._value

    def take(self, timeout: float | None = None) -> T | None:
        """Remove and return the value, waiting up to `timeout` s for one; None if none came."""
        with self._cond:
            if self._value is None:
                self._cond.wait(timeout)
            value, self._value = self._value, None
            return value

    def clear(self) -> None:
        with self._cond:
            self._value = None


class FrameRateMeter:
    """Frames per second, an exponential average over frame intervals (steady but responsive)."""

    def __init__(self, weight: float = 0.1) -> None:
        self.weight = weight
        self._last: float | None = None
        self._interval: float | None = None

    def tick(self, t: float) -> float:
        if self._last is not None and t > self._last:
            dt = t - self._last
            w = self.weight
            self._interval = dt if self._interval is None else (1 - w) * self._interval + w * dt
        self._last = t
        return self.fps

    @property
    def fps(self) -> float:
        return 1.0 / self._interval if self._interval else 0.0


def main_face(faces: Sequence[FaceEmotion], track_id: int | None = None) -> FaceEmotion | None:
    """The face with `track_id` if it is present, else the largest one, else None."""
    if track_id is not None:
        for f in faces:
            if f.track_id == track_id:
                return f
    if not faces:
        return None
    return max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))


def ice_servers(secrets: Mapping | None, environ: Mapping[str, str]) -> list[dict]:
    """STUN/TURN servers from Streamlit secrets (`ice_servers = [...]`) or the FER_ICE_SERVERS
    environment variable (JSON); none by default, so localhost works offline on host candidates."""
    raw = None
    if secrets is not None:
        try:
            raw = secrets.get("ice_servers") or (secrets.get("rtc_configuration") or {}).get("iceServers")
        except FileNotFoundError:  # no secrets.toml: Streamlit raises rather than returning None
            raw = None
    if raw is None and environ.get(ICE_ENV):
        try:
            raw = json.loads(environ[ICE_ENV])
        except json.JSONDecodeError as e:
            raise ValueError(f"{ICE_ENV} is not valid JSON: {e}") from e
    if isinstance(raw, Mapping):
        raw = raw.get("iceServers", [])
    return [dict(s) for s in (raw or [])]


def rtc_configuration(secrets: Mapping | None = None, environ: Mapping[str, str] | None = None) -> dict:
    return {"iceServers": ice_servers(secrets, os.environ if environ is None else environ)}


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f"{path.name}.{threading.get_ident()}.tmp")  # writers in two threads
    tmp.write_text(text)
    os.replace(tmp, path)


class EmotionVideoProcessor(VideoProcessorBase):
    """Sends each frame back at once with the newest analysis drawn on it, while a worker
    thread analyses the newest frame it has not seen (older ones are skipped, never queued).

    So the video runs at camera rate and in step with the person even when the model is slow
    (and streamlit-webrtc, which stops a stream whose callback takes over 10 s, is never blocked);
    only the overlay updates at the model's rate. `configure` may be called from the page's
    thread at any time; the pipeline is rebuilt only when the model or tracking settings change.
    """

    def __init__(self, recognizer: EmotionRecognizer, settings: AppSettings,
                 holder: LatestSlot[LiveSnapshot], counter_path: str | Path | None = None) -> None:
        self._lock = threading.Lock()  # guards pipeline and settings
        self.holder = holder
        self.counter_path = Path(counter_path) if counter_path else None
        self.analysed = 0
        self.sent = 0
        self.analysis_rate = FrameRateMeter()
        self.video_rate = FrameRateMeter()
        self._inbox: LatestSlot[tuple[np.ndarray, float]] = LatestSlot()
        self._latest: LiveSnapshot | None = None
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._recognizer: EmotionRecognizer | None = None
        self.settings = settings
        self.pipeline: EmotionPipeline | None = None
        self.configure(recognizer, settings)

    def configure(self, recognizer: EmotionRecognizer, settings: AppSettings) -> None:
        with self._lock:
            if (self.pipeline is None or recognizer is not self._recognizer
                    or settings.pipeline_config() != self.pipeline.config):
                self.pipeline = EmotionPipeline(recognizer, settings.pipeline_config())
                self._recognizer = recognizer
            self.settings = settings

    def analyse(self, rgb: np.ndarray, t: float) -> LiveSnapshot:
        """Run the pipeline on one RGB frame taken at `t` (monotonic seconds) and publish it."""
        with self._lock:
            settings = self.settings
            result = self.pipeline.process(rgb, t)
        self.analysed += 1
        snap = LiveSnapshot(result.index, self.analysis_rate.tick(t), self.video_rate.fps,
                            tuple(result.faces), t)
        self._latest = snap
        self.holder.put(snap)
        self._report(rgb.shape, result.faces, settings)
        return snap

    def _report(self, shape: tuple[int, ...], faces: list[FaceEmotion], settings: AppSettings) -> None:
        """Progress for end-to-end tests (only when a counter file is set), written atomically."""
        if self.counter_path is None:
            return
        snap = self._latest
        _write_atomic(self.counter_path, json.dumps({
            "frames": self.analysed, "sent": self.sent, "fps": round(snap.fps if snap else 0.0, 2),
            "video_fps": round(self.video_rate.fps, 2), "size": [shape[1], shape[0]],
            "faces": len(faces), "labels": [f.label for f in faces],
            "shown": [shown_label(f, settings.uncertain_below) for f in faces],
            "boxes": [[round(float(v), 1) for v in f.box] for f in faces]}))

    def draw(self, rgb: np.ndarray, now: float) -> np.ndarray:
        """Draw the newest analysis (unless stale) and the rates on a frame, in place."""
        snap, settings = self._latest, self.settings
        if snap is not None and now - snap.t <= STALE_AFTER_S:
            EmotionAnnotator(uncertain_below=settings.uncertain_below).annotate(rgb, list(snap.faces))
            if settings.show_landmarks:
                draw_landmarks(rgb, list(snap.faces))
        draw_fps(rgb, snap.fps if snap else 0.0, self.video_rate.fps)
        return rgb

    def _run(self) -> None:
        while not self._stop.is_set():
            item = self._inbox.take(timeout=0.5)
            if item is None:
                continue
            try:
                self.analyse(*item)
            except Exception:  # one bad frame must not end the analysis; the next gets a fresh try
                log.exception("frame analysis failed")

    def submit(self, rgb: np.ndarray, t: float) -> None:
        """Offer a frame for analysis; it replaces any frame still waiting."""
        if self._worker is None:
            self._worker = threading.Thread(target=self._run, name="fer-live-analysis", daemon=True)
            self._worker.start()
        self._inbox.put((rgb, t))

    def recv(self, frame: av.VideoFrame) -> av.VideoFrame:
        now = time.monotonic()
        rgb = frame.to_ndarray(format="rgb24")
        self.submit(rgb.copy(), now)
        self.video_rate.tick(now)
        self.sent += 1
        if self.sent % 30 == 0 and self._latest is not None:  # video flows even while analysis waits
            self._report(rgb.shape, list(self._latest.faces), self.settings)
        return av.VideoFrame.from_ndarray(self.draw(rgb, now), format="rgb24")

    def on_ended(self) -> None:
        self._stop.set()


def _session_holder() -> LatestSlot[LiveSnapshot]:
    if "fer_live_holder" not in st.session_state:
        st.session_state["fer_live_holder"] = LatestSlot()
    return st.session_state["fer_live_holder"]


def _live_panel(holder: LatestSlot[LiveSnapshot], playing: bool, uncertain_below: float) -> None:
    snap = holder.get()
    if not playing or snap is None:
        st.info("Press **START** and allow the camera. The chart follows the largest face.")
        return
    follow = st.session_state.get("follow_face", 0) or None
    face = main_face(snap.faces, follow)
    c1, c2 = st.columns([2, 1])  # two wide columns: a narrow panel would cut the values short
    c2.metric("Faces", len(snap.faces))
    st.caption(f"Analysis rate {snap.fps:.1f} fps, video {snap.video_fps:.0f} fps")
    if face is None:
        c1.metric("Emotion", "-")
        st.caption("No face in view.")
        return
    c1.metric("Emotion", display_name(shown_label(face, uncertain_below)), f"{face.confidence:.0%}",
              delta_color="off")
    st.plotly_chart(probability_bars(face.probs, title=f"Face #{face.track_id}, smoothed", height=320),
                    config={"displayModeBar": False}, key="live_chart")


_live_panel_refreshing = st.fragment(run_every=REFRESH_S)(_live_panel)


def render_live_tab(settings: AppSettings) -> None:
    holder = _session_holder()
    try:
        rtc = rtc_configuration(st.secrets)
    except ValueError as e:
        st.error(str(e))
        rtc = {"iceServers": []}
    recognizer = get_recognizer(settings)
    counter = os.environ.get(COUNTER_ENV)
    video_col, panel_col = st.columns([3, 2])
    with video_col:
        ctx = webrtc_streamer(
            key="fer-live",
            mode=WebRtcMode.SENDRECV,
            rtc_configuration=rtc,
            media_stream_constraints={"video": {"width": {"ideal": 640}, "height": {"ideal": 480}},
                                      "audio": False},
            video_processor_factory=lambda: EmotionVideoProcessor(recognizer, settings, holder, counter),
            async_processing=True,
        )
        if ctx.video_processor is not None:
            ctx.video_processor.configure(recognizer, settings)
        st.caption("Frames are analysed on the server. The video comes back at camera rate with "
                   "the newest analysis drawn on it; frames that arrive while one is being analysed "
                   "are skipped, so the picture never lags behind the camera.")
    with panel_col:
        st.number_input("Chart face id (0 = largest)", min_value=0, step=1, key="follow_face")
        playing = bool(ctx.state.playing)
        if not playing:
            holder.clear()
        (_live_panel_refreshing if playing else _live_panel)(holder, playing, settings.uncertain_below)
