"""The live webcam tab: the page around the video (notice, streamer, panel).

The frames themselves are handled by `fer.app.live_processor` and analysed in a worker process
(`fer.live`); this module only lays out the page and redraws the panel (`fer.app.live_panel`)
from the snapshot the processor publishes, the same object whose faces the video shows.
"""

from __future__ import annotations

import os

import streamlit as st
from streamlit_webrtc import WebRtcMode, webrtc_streamer

from fer.app.ice import rtc_configuration
from fer.app.live_panel import render_panel
from fer.app.live_processor import EmotionVideoProcessor, ViewSettings
from fer.app.sidebar import AppSettings
from fer.live.mailbox import LatestSlot
from fer.live.overlay import LiveSnapshot
from fer.live.pool import WorkerPool, default_live_sessions
from fer.live.worker import AnalyserSpec

SESSIONS_SETTING = "live_sessions"  # Streamlit secret, or FER_LIVE_SESSIONS: live analyses at once
# How often the panel (reading, chart and rates, from one snapshot) redraws: each redraw is a
# script run on the server and a re-render in the browser. Measured with the example video as the
# camera on 2 busy cores: Chromium 0.52-0.56 of a core with the chart redrawn every time, 0.43-0.51
# with it redrawn every 2 s (whose values then contradicted the reading beside it).
READING_REFRESH_S = 0.5

# The one notice of the page (issue 23.4 merged three): the AI Act's, before START, with the
# responsible-use words that used to stand apart above the tabs.
NOTICE = ("**People in view are analysed: tell everyone in view before you press START.** This "
          "emotion-recognition system (EU AI Act Art. 50(3)) estimates the expressions of every face "
          "the camera sees, on this server, storing nothing. It reads expressions, not feelings, and "
          "is wrong about three faces in ten: never use it to judge or monitor people.")


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


def _session_holder() -> LatestSlot[LiveSnapshot]:
    if "fer_live_holder" not in st.session_state:
        st.session_state["fer_live_holder"] = LatestSlot()
    return st.session_state["fer_live_holder"]


def _panel(holder: LatestSlot[LiveSnapshot], uncertain_below: float) -> None:
    """One read of the holder per redraw: every part of the panel shows that snapshot."""
    render_panel(holder.get(), uncertain_below)


_panel_refreshing = st.fragment(run_every=READING_REFRESH_S)(_panel)


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
    video_col, panel_col = st.columns([3, 2])
    with video_col:
        ctx = webrtc_streamer(
            key="fer-live",
            mode=WebRtcMode.SENDRECV,
            rtc_configuration=rtc,
            media_stream_constraints={"video": {"width": {"ideal": 640}, "height": {"ideal": 480}},
                                      "audio": False},
            video_processor_factory=lambda: EmotionVideoProcessor(pool, spec, view, holder),
            async_processing=True,
        )
        processor = ctx.video_processor
        if processor is not None:
            processor.configure(spec, view)
    with panel_col:
        playing = bool(ctx.state.playing)
        if not playing:
            holder.clear()
            st.caption("Press **START** and allow the camera: every face gets a box and its most "
                       "likely expression. No camera? Try the example in the **Photo** tab.")
        elif processor is not None and processor.refused:
            st.warning("The live view is busy: this server analyses a limited number of streams at "
                       "once and all are in use. Press STOP and try again in a minute, or use the "
                       "Photo and Video file tabs.")
        else:
            _panel_refreshing(holder, settings.uncertain_below)
