"""The live webcam tab: the page around the video (notice, streamer, panel with chart).

The frames themselves are handled by `fer.app.live_processor` and analysed in a worker process
(`fer.live`); this module only lays out the page and redraws the panel from the snapshot the
processor publishes, the same object whose faces the video shows.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import streamlit as st
from streamlit_webrtc import WebRtcMode, webrtc_streamer

from fer.app.charts import probability_bars
from fer.app.ice import rtc_configuration
from fer.app.live_processor import EmotionVideoProcessor, ViewSettings
from fer.app.sidebar import AppSettings
from fer.labels import display_name
from fer.live.mailbox import LatestSlot
from fer.live.overlay import FRESH_S, MAX_AGE_S, LiveSnapshot
from fer.live.pool import WorkerPool, default_live_sessions
from fer.live.worker import AnalyserSpec
from fer.results import FaceEmotion

COUNTER_ENV = "FER_E2E_COUNTER"  # file the processor keeps its progress in (end-to-end tests)
SESSIONS_SETTING = "live_sessions"  # Streamlit secret, or FER_LIVE_SESSIONS: live analyses at once
# How often the panel redraws. Each redraw is a script run on the server and a re-render in the
# browser; the chart is the costly part (measured: at 3 redraws/s the page took ~0.6 of a core
# between server and browser on a 2-core machine), so the reading follows faster than the chart.
READING_REFRESH_S = 0.5
CHART_REFRESH_S = 2.0

NOTICE = ("**People in view are analysed.** The camera picture is sent to this server, where an "
          "emotion-recognition system estimates the probability of facial expressions in every face "
          "it sees (EU AI Act Art. 50(3)). Tell everyone in view before you press START. Nothing is "
          "stored. Probabilities describe visible expressions, not what anyone feels.")


def live_sessions(secrets, environ) -> int:
    """How many live analyses this server admits at once: a secret, the environment, or one per
    two cores."""
    raw = None
    try:
        raw = secrets.get(SESSIONS_SETTING) if secrets is not None else None
    except FileNotFoundError:
        raw = None
    raw = raw if raw is not None else environ.get("FER_LIVE_SESSIONS")
    return max(1, int(raw)) if raw not in (None, "") else default_live_sessions()


@st.cache_resource(show_spinner=False)
def _worker_pool(size: int) -> WorkerPool:
    """One pool per server: its worker processes outlive sessions, so START finds models loaded."""
    return WorkerPool(size)


def analyser_spec(settings: AppSettings) -> AnalyserSpec:
    return AnalyserSpec(settings.weights, settings.min_score, settings.min_face_size,
                        settings.pipeline_config(), settings.max_faces)


def main_face(faces: Sequence[FaceEmotion], track_id: int | None = None) -> FaceEmotion | None:
    """The face with `track_id` if it is present, else the largest one, else None."""
    if track_id is not None:
        for f in faces:
            if f.track_id == track_id:
                return f
    if not faces:
        return None
    return max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))


def _session_holder() -> LatestSlot[LiveSnapshot]:
    if "fer_live_holder" not in st.session_state:
        st.session_state["fer_live_holder"] = LatestSlot()
    return st.session_state["fer_live_holder"]


def _followed_face(snap: LiveSnapshot) -> FaceEmotion | None:
    faces = snap.result.faces if snap.result is not None else ()
    return main_face(faces, st.session_state.get("follow_face", 0) or None)


def _live_reading(holder: LatestSlot[LiveSnapshot], uncertain_below: float) -> None:
    """The read-outs and the followed face's label, from the snapshot the video drew last."""
    snap = holder.get()
    if snap is None:
        st.info("Press **START** and allow the camera. The panel follows the largest face.")
        return
    s = snap.stats
    age = "-" if math.isnan(s.overlay_age_ms) else f"{s.overlay_age_ms:.0f} ms"
    st.caption(f"Video {s.video_fps:.0f} fps · analysis {s.analysis_fps:.1f} fps · overlay age {age} "
               f"(drawn up to {MAX_AGE_S:.1f} s old, fading after {FRESH_S:.1f} s)"
               + (f" · load level {s.level}: detecting less to keep up" if s.level else ""))
    face = _followed_face(snap)
    c1, c2 = st.columns([2, 1])  # two wide columns: a narrow panel would cut the values short
    c2.metric("Faces", len(snap.result.faces) if snap.result is not None else 0)
    if face is None:
        c1.metric("Emotion", "-")
        st.caption("No face in view." if s.analysis_fps > 0 else "Waiting for the analysis...")
        return
    shown = display_name(face.shown_label(uncertain_below))
    c1.metric("Emotion", shown, f"{face.confidence:.0%}", delta_color="off")
    st.caption(f"Face #{face.track_id} · frame {snap.result.seq} · {shown} {face.confidence:.0%} · as drawn "
               "on the video")


def _live_chart(holder: LatestSlot[LiveSnapshot]) -> None:
    """The followed face's smoothed probabilities, as drawn on the video's frame named in the title."""
    snap = holder.get()
    face = _followed_face(snap) if snap is not None else None
    if face is None:
        return
    st.plotly_chart(probability_bars(face.probs, title=f"Face #{face.track_id}, smoothed (frame {snap.result.seq})",
                                     height=320), config={"displayModeBar": False}, key="live_chart")


_live_reading_refreshing = st.fragment(run_every=READING_REFRESH_S)(_live_reading)
_live_chart_refreshing = st.fragment(run_every=CHART_REFRESH_S)(_live_chart)


def render_live_tab(settings: AppSettings) -> None:
    st.info(NOTICE)
    holder = _session_holder()
    try:
        rtc = rtc_configuration(st.secrets)
    except ValueError as e:
        st.error(str(e))
        rtc = {"iceServers": []}
    pool = _worker_pool(live_sessions(st.secrets, os.environ))
    spec = analyser_spec(settings)
    view = ViewSettings(settings.uncertain_below, settings.show_landmarks)
    pool.warm(spec)
    counter = os.environ.get(COUNTER_ENV)
    video_col, panel_col = st.columns([3, 2])
    with video_col:
        ctx = webrtc_streamer(
            key="fer-live",
            mode=WebRtcMode.SENDRECV,
            rtc_configuration=rtc,
            media_stream_constraints={"video": {"width": {"ideal": 640}, "height": {"ideal": 480}},
                                      "audio": False},
            video_processor_factory=lambda: EmotionVideoProcessor(pool, spec, view, holder, counter),
            async_processing=True,
        )
        processor = ctx.video_processor
        if processor is not None:
            processor.configure(spec, view)
        st.caption("Frames are analysed in a separate process on the server. The video comes back "
                   "at camera rate with the newest analysis drawn on it; when the CPU is short the "
                   "analysis detects faces less often rather than falling behind.")
    with panel_col:
        st.number_input("Chart face id (0 = largest)", min_value=0, step=1, key="follow_face")
        playing = bool(ctx.state.playing)
        if not playing:
            holder.clear()
            _live_reading(holder, settings.uncertain_below)
        elif processor is not None and processor.refused:
            st.warning("The live view is busy: this server analyses a limited number of streams at "
                       "once and all are in use. Press STOP and try again in a minute, or use the "
                       "Photo and Video file tabs.")
        else:
            _live_reading_refreshing(holder, settings.uncertain_below)
            _live_chart_refreshing(holder)
