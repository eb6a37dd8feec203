"""The live tab's parts without a browser: ICE configuration, the one-slot mailbox, and the
video processor run on real frames with the real recognizer."""

from __future__ import annotations

import json
import threading
import time

import av
import numpy as np
import pytest

from fer.app.drawing import shown_label
from fer.app.live import (
    STALE_AFTER_S,
    EmotionVideoProcessor,
    FrameRateMeter,
    LatestSlot,
    main_face,
    rtc_configuration,
)
from fer.app.sidebar import AppSettings
from fer.labels import color_rgb


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


def test_latest_slot_keeps_only_the_newest_value():
    slot: LatestSlot[int] = LatestSlot()
    for i in range(5):
        slot.put(i)
    assert slot.get() == 4 and slot.take() == 4
    assert slot.take(timeout=0.01) is None


def test_latest_slot_wakes_a_waiting_reader():
    slot: LatestSlot[str] = LatestSlot()
    threading.Timer(0.05, slot.put, args=("frame",)).start()
    assert slot.take(timeout=5) == "frame"


def test_frame_rate_meter():
    meter = FrameRateMeter()
    for i in range(50):
        meter.tick(i / 12.5)
    assert meter.fps == pytest.approx(12.5, rel=1e-6)


def test_main_face_is_the_chosen_track_or_the_largest(recognizer, astronaut):
    from dataclasses import replace

    f = recognizer.analyze(astronaut)[0]
    small = replace(f, box=(0, 0, 10, 10), track_id=7)
    big = replace(f, track_id=3)
    assert main_face([small, big]) is big
    assert main_face([small, big], track_id=7) is small
    assert main_face([small, big], track_id=99) is big
    assert main_face([]) is None


@pytest.fixture
def frame(astronaut) -> np.ndarray:
    """The astronaut on a 640x480 grey canvas, as the fake camera of the browser test sends it."""
    import cv2

    canvas = np.full((480, 640, 3), 128, np.uint8)
    canvas[:, 80:560] = cv2.resize(astronaut, (480, 480), interpolation=cv2.INTER_AREA)
    return canvas


def tag_pixel(box) -> tuple[int, int]:
    """(row, col) inside the label tag drawn just above the box's top-left corner."""
    return int(box[1]) - 3, int(box[0]) + 1


def test_processor_analyses_draws_and_reports(recognizer, frame, tmp_path):
    counter = tmp_path / "frames.json"
    holder: LatestSlot = LatestSlot()
    settings = AppSettings(show_landmarks=True)
    proc = EmotionVideoProcessor(recognizer, settings, holder, counter)
    snap = proc.analyse(frame.copy(), t=100.0)
    assert len(snap.faces) == 1 and holder.get() is snap
    face = snap.faces[0]
    assert face.track_id == 1
    report = json.loads(counter.read_text())
    assert report["frames"] == 1 and report["faces"] == 1 and report["size"] == [640, 480]

    drawn = proc.draw(frame.copy(), now=100.1)
    r, c = tag_pixel(face.box)
    np.testing.assert_array_equal(drawn[r, c], color_rgb(shown_label(face, settings.uncertain_below)))
    assert not np.array_equal(frame[r, c], drawn[r, c])
    assert drawn[5:15, 5:60].min() < 30  # the dark rate read-out in the corner

    stale = proc.draw(frame.copy(), now=100.0 + STALE_AFTER_S + 0.1)
    np.testing.assert_array_equal(stale[r, c], frame[r, c])  # old faces are not drawn


def test_recv_returns_at_once_and_draws_the_worker_s_analysis(recognizer, frame):
    proc = EmotionVideoProcessor(recognizer, AppSettings(), LatestSlot())
    video = av.VideoFrame.from_ndarray(frame, format="rgb24")
    try:
        first = proc.recv(video).to_ndarray(format="rgb24")
        assert first.shape == frame.shape
        deadline = time.monotonic() + 120
        while proc.analysed == 0 and time.monotonic() < deadline:
            proc.recv(video)
            time.sleep(0.05)
        assert proc.analysed >= 1
        assert proc.sent > proc.analysed  # frames went back while the model was busy
        out = proc.recv(video).to_ndarray(format="rgb24")
        r, c = tag_pixel(proc._latest.faces[0].box)
        assert not np.array_equal(out[r, c], frame[r, c])
    finally:
        proc.on_ended()
    proc._worker.join(5)
    assert not proc._worker.is_alive()


def test_configure_rebuilds_the_pipeline_only_when_needed(recognizer):
    proc = EmotionVideoProcessor(recognizer, AppSettings(), LatestSlot())
    pipeline = proc.pipeline
    proc.configure(recognizer, AppSettings(show_landmarks=True, uncertain_below=0.2))
    assert proc.pipeline is pipeline and proc.settings.uncertain_below == 0.2
    proc.configure(recognizer, AppSettings(detect_every=1))
    assert proc.pipeline is not pipeline and proc.pipeline.config.detect_every == 1
