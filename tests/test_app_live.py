"""The live tab's parts without a browser: ICE configuration, and the video processor run on
real frames with a real worker process and the real models."""

from __future__ import annotations

import json
import time

import av
import numpy as np
import pytest

from fer.app.ice import rtc_configuration
from fer.app.live import live_sessions
from fer.app.live_processor import EmotionVideoProcessor, ViewSettings
from fer.labels import color_rgb
from fer.live.mailbox import LatestSlot
from fer.live.overlay import MAX_AGE_S
from fer.live.pool import WorkerPool
from fer.live.worker import AnalyserSpec
from fer.weights import DEFAULT_WEIGHTS


def test_rtc_configuration_defaults_to_host_candidates_only():
    assert rtc_configuration({}, {}) == {"iceServers": []}
    assert rtc_configuration(None, {}) == {"iceServers": []}


def test_rtc_configuration_from_environment_and_secrets():
    turn = {"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "c"}
    assert rtc_configuration(None, {"FER_ICE_SERVERS": json.dumps([turn])}) == {"iceServers": [turn]}
    assert rtc_configuration(None, {"FER_ICE_SERVERS": json.dumps({"iceServers": [turn]})}) == {
        "iceServers": [turn]}
    stun = {"urls": ["stun:stun.example.org:3478"]}
    env = {"FER_ICE_SERVERS": json.dumps([turn])}
    assert rtc_configuration({"ice_servers": [stun]}, env) == {"iceServers": [stun]}  # secrets win
    assert rtc_configuration({"rtc_configuration": {"iceServers": [stun]}}, {}) == {"iceServers": [stun]}


def test_rtc_configuration_rejects_bad_json_clearly():
    with pytest.raises(ValueError, match="FER_ICE_SERVERS"):
        rtc_configuration(None, {"FER_ICE_SERVERS": "[{not json"})


def test_live_sessions_setting():
    assert live_sessions({"live_sessions": 3}, {}) == 3
    assert live_sessions(None, {"FER_LIVE_SESSIONS": "2"}) == 2
    assert live_sessions(None, {}) >= 1


@pytest.fixture
def frame(astronaut) -> np.ndarray:
    """The astronaut on a 640x480 grey canvas, as the fake camera of the browser test sends it."""
    import cv2

    canvas = np.full((480, 640, 3), 128, np.uint8)
    canvas[:, 80:560] = cv2.resize(astronaut, (480, 480), interpolation=cv2.INTER_AREA)
    return canvas


@pytest.fixture(scope="module")
def pool():
    p = WorkerPool(size=1)
    yield p
    p.close()


def tag_pixel(box) -> tuple[int, int]:
    """(row, col) inside the label tag drawn just above the box's top-left corner."""
    return int(box[1]) - 3, int(box[0]) + 1


def _wait_for_result(proc: EmotionVideoProcessor, frame: np.ndarray) -> np.ndarray:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        out = proc.analyse_frame(frame.copy(), time.monotonic())
        if proc.holder.get() is not None and proc.holder.get().result is not None:
            return out
        time.sleep(0.03)
    raise AssertionError("no analysis arrived")


def test_processor_draws_the_workers_analysis(pool, frame):
    holder: LatestSlot = LatestSlot()
    view = ViewSettings(uncertain_below=0.4, show_landmarks=True)
    proc = EmotionVideoProcessor(pool, AnalyserSpec(DEFAULT_WEIGHTS), view, holder)
    try:
        assert not proc.refused
        drawn = _wait_for_result(proc, frame)
        snap = holder.get()
        (face,) = snap.result.faces
        assert face.track_id == 1 and snap.opacity == 1.0
        r, c = tag_pixel(face.box)
        # the tag's colour is the shown label's: the panel (which reads `snap`) and the video agree
        np.testing.assert_array_equal(drawn[r, c], color_rgb(face.shown_label(view.uncertain_below)))
        assert not np.array_equal(frame[r, c], drawn[r, c])
        # no read-out in the picture (issue 23.2: it covered labels); the page shows the rates
        np.testing.assert_array_equal(drawn[:40, :80], frame[:40, :80])

        # an analysis older than the bound is no longer drawn: the frame goes back untouched
        result = proc.lease.worker.latest
        old = proc.analyse_frame(frame.copy(), result.t + MAX_AGE_S + 5)
        assert holder.get().result is None
        np.testing.assert_array_equal(old[r, c], frame[r, c])
    finally:
        proc.on_ended()
    assert pool.in_use() == 0


def test_recv_returns_a_frame_at_once(pool, frame):
    proc = EmotionVideoProcessor(pool, AnalyserSpec(DEFAULT_WEIGHTS), ViewSettings(), LatestSlot())
    try:
        out = proc.recv(av.VideoFrame.from_ndarray(frame, format="rgb24")).to_ndarray(format="rgb24")
        assert out.shape == frame.shape
    finally:
        proc.on_ended()


def test_a_second_stream_beyond_the_bound_is_refused_clearly(pool, frame):
    spec = AnalyserSpec(DEFAULT_WEIGHTS)
    first = EmotionVideoProcessor(pool, spec, ViewSettings(), LatestSlot())
    second = EmotionVideoProcessor(pool, spec, ViewSettings(), LatestSlot())
    try:
        assert not first.refused and second.refused
        out = second.analyse_frame(frame.copy(), time.monotonic())
        assert out[5:15, 5:60].min() < 30  # it says so on the video...
        assert second.holder.get() is None  # ...analyses nothing, and leaves the page alone
    finally:
        first.on_ended()
        second.on_ended()
    third = EmotionVideoProcessor(pool, spec, ViewSettings(), LatestSlot())
    assert not third.refused  # STOP on the first freed its slot
    third.on_ended()


def test_configure_passes_new_settings_to_the_worker(pool):
    proc = EmotionVideoProcessor(pool, AnalyserSpec(DEFAULT_WEIGHTS), ViewSettings(), LatestSlot())
    try:
        spec = AnalyserSpec(DEFAULT_WEIGHTS, min_score=0.95)
        proc.configure(spec, ViewSettings(uncertain_below=0.2))
        assert proc.lease.worker.spec == spec and proc.view.uncertain_below == 0.2
    finally:
        proc.on_ended()


def test_the_live_tab_tells_people_they_are_analysed_before_start():
    """EU AI Act Art. 50(3): people exposed to emotion recognition are told so, before START."""
    from unittest import mock

    from conftest import ROOT
    from streamlit.testing.v1 import AppTest

    with mock.patch("streamlit_webrtc.component.get_this_session_info", return_value=None):
        at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=300)
        at.run()
    assert not at.exception, at.exception
    notices = [i.value for i in at.info]
    assert any("People in view are analysed" in n and "before you press START" in n for n in notices), notices


def test_live_and_video_tabs_build_one_pipeline_setting_from_the_sidebar():
    """Both tabs compose the sidebar's one PipelineConfig (they drifted when each copied fields:
    at half-life 0 the video tab kept the label hysteresis on)."""
    from fer.analysis import AnalysisSettings
    from fer.app.live import analyser_spec
    from fer.app.sidebar import AppSettings
    from fer.app.video_tab import analysis_settings

    for settings in (AppSettings(), AppSettings(half_life_s=0.0, detect_every=5)):
        live, video = analyser_spec(settings).pipeline, analysis_settings(settings, None).pipeline
        assert live == video == settings.pipeline_config()
    assert not analysis_settings(AppSettings(half_life_s=0.0), None).pipeline.smoothing_on
    # the sidebar's defaults are `fer video`'s: the video tab analyses as the CLI does
    assert analysis_settings(AppSettings(), None).with_(max_duration_s=3600.0) == AnalysisSettings()


def test_a_new_shot_is_never_drawn_with_the_last_shots_boxes(pool, frame):
    """A camera switch, or a looped example clip cutting from the audience back to the stage: the
    newest analysis is of the old picture, and its boxes would float on the new one until the
    worker caught up. From the cut on, only analyses of frames after it are drawn."""
    proc = EmotionVideoProcessor(pool, AnalyserSpec(DEFAULT_WEIGHTS), ViewSettings(), LatestSlot())
    try:
        _wait_for_result(proc, frame)
        other_shot = np.full_like(frame, (30, 140, 60))
        cut = proc.analyse_frame(other_shot.copy(), time.monotonic())
        np.testing.assert_array_equal(cut, other_shot)  # nothing from the old shot drawn on it
        assert proc.holder.get().result is None
    finally:
        proc.on_ended()
