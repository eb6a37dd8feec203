"""The live loop without a browser: mailbox, meters, overlay fading, load control, and the real
worker process analysing frames of a real clip through shared memory."""

from __future__ import annotations

import time

import numpy as np
import pytest
from clips import ONE_PERSON, clip_frames, needs_clips

from fer.live.load import LEVELS, LoadController, level_workload
from fer.live.mailbox import LatestSlot
from fer.live.meter import RateMeter
from fer.live.overlay import FRESH_S, MAX_AGE_S, overlay_opacity
from fer.live.pool import WorkerPool, default_live_sessions
from fer.live.worker import AnalyserSpec, AnalysisWorker
from fer.weights import DEFAULT_WEIGHTS


def test_latest_slot_keeps_only_the_newest_value():
    slot: LatestSlot[int] = LatestSlot()
    for i in range(5):
        slot.put(i)
    assert slot.get() == 4 and slot.get() == 4  # reading leaves it for the next reader
    slot.clear()
    assert slot.get() is None


def test_rate_meter_reads_the_recent_rate_and_zero_after_a_stall():
    meter = RateMeter(window_s=2.0)
    for i in range(50):
        meter.tick(i / 12.5)
    now = 49 / 12.5
    assert meter.rate(now) == pytest.approx(12.5, rel=1e-6)
    assert meter.rate(now + 1.0) < 12.5  # nothing new for a second: the rate falls...
    assert meter.rate(now + 2.5) == 0.0  # ...and a stalled stream reads 0, not its last rate


def test_overlay_fades_between_fresh_and_max_age():
    assert overlay_opacity(0.0) == 1.0 and overlay_opacity(FRESH_S) == 1.0
    mid = overlay_opacity((FRESH_S + MAX_AGE_S) / 2)
    assert 0.4 < mid < 0.6
    assert overlay_opacity(MAX_AGE_S) == 0.0 and overlay_opacity(10) == 0.0


def test_load_controller_steps_down_when_slow_and_recovers_when_fast():
    c = LoadController(slow_ms=70, fast_ms=30, recover_s=3, hold_s=1)
    t = 0.0
    for _ in range(30):  # 150 ms frames for 3 s
        t += 0.15
        c.update(150, t)
    assert c.level >= 2
    top = c.level
    for _ in range(10):  # fast again, but not yet for long enough
        t += 0.1
        c.update(10, t)
    assert c.level == top or c.level == top - 1
    for _ in range(200):
        t += 0.1
        c.update(10, t)
    assert c.level == 0


def test_levels_never_detect_more_often_than_the_user_asked():
    for level in range(len(LEVELS)):
        assert level_workload(level, detect_every=8).detect_every >= 8
    assert level_workload(0, detect_every=1).detect_every == 1  # level 0 is exactly what was asked
    sides = [level_workload(i, 1).detect_side for i in range(len(LEVELS))]
    assert sides == sorted(sides, reverse=True)  # each level does less work


def test_default_live_sessions_from_cores():
    assert default_live_sessions(1) == 1 and default_live_sessions(2) == 1
    assert default_live_sessions(8) == 4


@pytest.fixture(scope="module")
def worker():
    w = AnalysisWorker(AnalyserSpec(DEFAULT_WEIGHTS))
    yield w
    w.close()
    assert not w.alive


def _stream(worker: AnalysisWorker, frames: list[np.ndarray], fps: float = 30.0) -> list:
    """Play frames to the worker at camera rate; return the distinct results seen."""
    seen = {}
    t0 = time.monotonic()
    for i, f in enumerate(frames):
        due = t0 + i / fps
        time.sleep(max(0.0, due - time.monotonic()))
        worker.submit(f, time.monotonic())
        r = worker.latest
        if r is not None:
            seen[r.seq] = r
    deadline = time.monotonic() + 30
    while worker.latest is not None and worker.latest.seq not in seen and time.monotonic() < deadline:
        time.sleep(0.01)
    if worker.latest is not None:
        seen[worker.latest.seq] = worker.latest
    return [seen[k] for k in sorted(seen)]


@needs_clips
def test_worker_analyses_a_real_clip_with_one_stable_id(worker):
    frames = clip_frames(ONE_PERSON)
    worker.reset()
    results = _stream(worker, frames + frames[::-1])  # forward then back: one continuous shot
    assert len(results) >= 10, "the worker analysed almost nothing"
    assert len(results) < 2 * len(frames)  # frames that came while it was busy were skipped
    with_face = [r for r in results if r.faces]
    assert len(with_face) >= 0.9 * len(results)
    ids = {f.track_id for r in with_face for f in r.faces}
    assert ids == {1}, f"one person should keep one id, got {ids}"
    for r in with_face:
        f = r.faces[0]
        assert f.raw_probs is not None and sum(f.probs.values()) == pytest.approx(1, abs=1e-3)
        x1, y1, x2, y2 = f.box
        assert 0 <= x1 < x2 <= frames[0].shape[1] and 0 <= y1 < y2 <= frames[0].shape[0]
    seqs = [r.seq for r in results]
    assert seqs == sorted(seqs)
    assert all(r.frame_ms > 0 and r.timings.classify_ms > 0 for r in with_face)


def test_worker_maps_boxes_back_from_frames_too_large_for_its_buffer(worker, astronaut):
    import cv2

    big = cv2.resize(astronaut, (2560, 2560), interpolation=cv2.INTER_LINEAR)  # 2.5x the photo
    worker.reset()
    seq = worker.submit(big, time.monotonic())
    deadline = time.monotonic() + 60
    while (worker.latest is None or worker.latest.seq < seq) and time.monotonic() < deadline:
        time.sleep(0.02)
    (face,) = worker.latest.faces
    assert face.box[2] > 1000  # in the big frame's pixels, not the scaled-down copy's
    assert face.box[2] <= 2560


def test_pool_admits_a_bounded_number_and_reclaims_idle_leases(worker):
    pool = WorkerPool(size=1, idle_reclaim_s=0.5)
    pool._workers[0] = worker  # share the module's worker: no second process to start
    spec = AnalyserSpec(DEFAULT_WEIGHTS)
    first = pool.lease(spec)
    assert first is not None and pool.in_use() == 1
    assert pool.lease(spec) is None  # the next visitor is refused, not slowed down
    pool.release(first)
    assert first.revoked and pool.in_use() == 0
    second = pool.lease(spec)
    assert second is not None
    time.sleep(0.6)  # a tab closed without STOP: no frames for longer than the reclaim time
    third = pool.lease(spec)
    assert third is not None and second.revoked
    pool.release(third)
    pool._workers[0] = None  # the module fixture closes it


def test_the_live_worker_caps_faces_per_frame(astronaut):
    """The sidebar's 'most faces per image' holds in the live view too (the largest are kept)."""
    import cv2

    face = cv2.resize(astronaut[20:220, 130:330], (160, 160), interpolation=cv2.INTER_AREA)
    crowd = np.concatenate([face, face, face], 1)  # three faces, 480x160
    w = AnalysisWorker(AnalyserSpec(DEFAULT_WEIGHTS, max_faces=2))
    try:
        seq = w.submit(crowd, time.monotonic())
        deadline = time.monotonic() + 60
        while (w.latest is None or w.latest.seq < seq) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(w.latest.faces) == 2
    finally:
        w.close()


def test_moving_the_uncertain_slider_keeps_the_tracks():
    """The threshold reaches the smoother (its hysteresis band sits around it) without a new
    pipeline: a slider moved mid-stream must not give the faces new ids."""
    from dataclasses import replace

    from fer.live.worker import _Analyser

    analyser, spec = _Analyser(), AnalyserSpec(DEFAULT_WEIGHTS)
    analyser.configure(spec)
    pipeline = analyser.pipeline
    analyser.configure(replace(spec, pipeline=replace(spec.pipeline, uncertain_below=0.6)))
    assert analyser.pipeline is pipeline
    assert pipeline.smoother.uncertain_below == pipeline.config.uncertain_below == 0.6
    analyser.configure(replace(spec, pipeline=replace(spec.pipeline, half_life_s=1.0)))
    assert analyser.pipeline is not pipeline  # other pipeline settings still rebuild it


def test_the_stream_never_searches_empty_frames_again_with_a_margin():
    """The photo's second search for a tight face crop (fer.detection) would cost every faceless
    frame of a stream a second MTCNN pass: the pipeline behind the live view, the video tab,
    `fer video` and the API's video asks for none."""
    from unittest import mock

    from fer.detection import FaceDetector
    from fer.live.worker import _Analyser

    analyser = _Analyser()
    analyser.configure(AnalyserSpec(DEFAULT_WEIGHTS))
    blank = np.full((240, 320, 3), 127, np.uint8)  # small enough for a photo's retry
    with mock.patch.object(FaceDetector, "detect_with_margin", side_effect=AssertionError) as retry:
        for i in range(3):
            assert analyser.pipeline.process(blank, i / 10).faces == []
        retry.assert_not_called()
