"""End to end, as a user meets it: the README's app command (`bash .ci/app`, no tuning variable),
headless Chromium whose fake camera plays a real clip of one person talking and smiling, START
pressed, and what comes back measured over 20 s: once on an otherwise idle machine and once
with one CPU core kept busy by another process.

Needs Debian's /usr/bin/chromium (`.ci/test` installs it where it can) and the real clips in
../shared/data/clips; skips with the reason where either is absent. About 2-3 minutes; do not run
it beside other CPU-heavy jobs (it measures what the machine can do).
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from clips import ONE_PERSON, needs_clips

from benchmarks.live_harness import (
    CHROMIUM,
    IFRAME,
    app_server,
    busy_core,
    clip_to_y4m,
    face_share_offline,
    live_page,
    measure,
    read_counter,
    start_stream,
)
from fer.labels import color_rgb

WINDOW_S = 20.0
COLOUR_TOLERANCE = 45  # per channel: the returned stream is lossy VP8

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no browser: {CHROMIUM} missing (apt-get install -y chromium)"),
    needs_clips,
]


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """The app started as the README says, one browser streaming the one-person clip."""
    work = tmp_path_factory.mktemp("live")
    y4m = work / "camera.y4m"
    clip_to_y4m(ONE_PERSON, y4m)
    with app_server(work) as (url, counter, log):
        try:
            with live_page(url, y4m, work / "profile") as page:
                start_stream(page, counter)
                yield page, counter
        finally:
            print(log.read_text()[-3000:])


def test_clip_shows_a_face_in_every_frame():
    """The ground truth behind 'a box on >= 90% of frames': the detector, at its exact setting,
    finds the face in (nearly) every frame of the clip as the camera sends it."""
    assert face_share_offline(ONE_PERSON) >= 0.97


def test_live_view_on_an_idle_machine(live):
    page, counter = live
    w = measure(page, counter, WINDOW_S)
    print("idle:", w.to_dict())
    # What the user sees, with floors that catch a stalled or lagging view; the speed figures
    # themselves are benchmarks' (benchmarks/bench_live.py prints them), not pass marks here.
    assert w.video_fps_browser >= 15, w
    assert w.boxed_share >= 0.90, w
    assert w.analysis_fps >= 5, w
    assert w.age_p95_ms <= 500, w
    assert w.track_ids == [1], f"one person in one continuous shot must keep one id: {w}"
    assert w.agreement_checks >= 3 and not w.agreement_failures, w

    # The boxes really reach the browser: the label tag above the box comes back in its colour.
    frame = page.locator(IFRAME).element_handle().content_frame()
    js = """([x, y, w, h]) => {
        const v = document.querySelector('video');
        if (!v || !v.videoWidth) return null;
        const c = document.createElement('canvas');
        c.width = v.videoWidth; c.height = v.videoHeight;
        const g = c.getContext('2d');
        g.drawImage(v, 0, 0);
        return Array.from(g.getImageData(x, y, w, h).data);
    }"""
    seen = expected = None
    for _ in range(60):
        state = read_counter(counter)
        if state.get("boxes"):
            x1, y1 = (int(v) for v in state["boxes"][0][:2])
            data = frame.evaluate(js, [x1 + 2, max(0, y1 - 5), 14, 5])
            if data:
                seen = np.median(np.asarray(data, np.float32).reshape(-1, 4)[:, :3], axis=0)
                expected = np.asarray(color_rgb(state["shown"][0]), np.float32)
                if np.abs(seen - expected).max() < COLOUR_TOLERANCE:
                    break
        page.wait_for_timeout(250)
    assert seen is not None and np.abs(seen - expected).max() < COLOUR_TOLERANCE, (seen, expected)

    page.locator(".js-plotly-plot .bars").first.wait_for(timeout=60_000)
    if os.environ.get("FER_SCREENSHOT"):
        shot = counter.parent / "app.png"
        page.screenshot(path=str(shot))
        shutil.copyfile(shot, os.environ["FER_SCREENSHOT"])


def test_live_view_with_one_core_busy(live):
    page, counter = live
    with busy_core():
        page.wait_for_timeout(3_000)  # let the load controller see the busy core
        w = measure(page, counter, WINDOW_S)
    print("one core busy:", w.to_dict())
    assert w.boxed_share >= 0.90, w
    assert w.track_ids == [1], w
    assert not w.agreement_failures, w


def test_fake_camera_clip_is_a_continuous_y4m(tmp_path):
    y4m = tmp_path / "a.y4m"
    n = clip_to_y4m(ONE_PERSON, y4m)
    header, _, rest = y4m.read_bytes().partition(b"\n")
    assert header.startswith(b"YUV4MPEG2 W640 H480 F30:1")
    assert len(rest) == n * (len(b"FRAME\n") + 640 * 480 * 3 // 2)
