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

import pytest
from clips import ONE_PERSON, needs_clips

from benchmarks.live_harness import (
    CHROMIUM,
    agrees,
    app_server,
    busy_core,
    clip_to_y4m,
    face_share_offline,
    live_page,
    measure,
    start_stream,
)

WINDOW_S = 20.0

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
    camera = clip_to_y4m(ONE_PERSON, y4m)
    with app_server(work) as (url, log):
        try:
            with live_page(url, y4m, work / "profile") as page:
                start_stream(page, camera)
                yield page, camera
        finally:
            print(log.read_text()[-3000:])


def test_clip_shows_a_face_in_every_frame():
    """The ground truth behind 'a box on >= 90% of frames': the detector, at its exact setting,
    finds the face in (nearly) every frame of the clip as the camera sends it."""
    assert face_share_offline(ONE_PERSON) >= 0.97


def test_live_view_on_an_idle_machine(live):
    page, camera = live
    w = measure(page, camera, WINDOW_S)
    print("idle:", w.to_dict())
    # What the user sees, with floors that catch a stalled or lagging view; the speed figures
    # themselves are benchmarks' (benchmarks/bench_live.py prints them), not pass marks here.
    assert w.video_fps_browser >= 15, w
    assert w.looks >= 40, w  # enough looks for the shares to mean something
    assert w.boxed_share >= 0.90, w
    assert w.multi_tag_share <= 0.02, f"one person: a second box is a phantom face: {w}"
    assert w.analysis_fps >= 5, w
    assert w.lag_p95_ms <= 500, w
    assert w.track_ids == [1], f"one person in one continuous shot must keep one id: {w}"
    assert w.agreement_checks >= 10 and agrees(w.agreement_checks, w.agreement_failures), w
    assert w.unlabelled_tag_share <= 0.1, f"tags in the colour of their label: {w}"
    page.locator(".js-plotly-plot .bars").first.wait_for(timeout=60_000)
    if os.environ.get("FER_SCREENSHOT"):
        page.screenshot(path=os.environ["FER_SCREENSHOT"])


def test_live_view_with_one_core_busy(live):
    page, camera = live
    with busy_core():
        page.wait_for_timeout(3_000)  # let the load controller see the busy core
        w = measure(page, camera, WINDOW_S)
    print("one core busy:", w.to_dict())
    assert w.boxed_share >= 0.90, w
    assert w.multi_tag_share <= 0.02, w
    assert w.track_ids == [1], w
    assert agrees(w.agreement_checks, w.agreement_failures), w


def test_fake_camera_clip_is_a_continuous_y4m(tmp_path):
    y4m = tmp_path / "a.y4m"
    camera = clip_to_y4m(ONE_PERSON, y4m)
    n = 2 * len(camera.frames) - 2  # forward, then back without repeating either end
    header, _, rest = y4m.read_bytes().partition(b"\n")
    assert header.startswith(b"YUV4MPEG2 W640 H480 F30:1")
    assert len(rest) == n * (len(b"FRAME\n") + 640 * 480 * 3 // 2)
