"""The app as a visitor meets it (issue 23), in headless Chromium at a laptop size (1366x800) and
a phone size (390x844): START is in view without scrolling, the example photo works without a
camera, the example video's results agree with their timeline and are a few screens long, the
live panel reads like the video, and the label tag of a face at the picture's top edge is inside
the picture. The fake cameras play the example video and photo shipped with the
app, so only Debian's /usr/bin/chromium is needed.

With FER_SCREENSHOTS=DIR each tab is saved as DIR/app_<tab>_<size>.png (the ones in docs/; the
video tab's is the whole page).
About 2-3 minutes; run it alone, not beside CPU-heavy jobs.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from benchmarks.live_harness import (
    CHROMIUM,
    IFRAME,
    H,
    W,
    agreement,
    agrees,
    app_server,
    chromium_args,
    clip_to_y4m,
    look,
    start_stream,
    write_y4m,
)
from benchmarks.live_screen import Camera
from fer.annotate import label_font, tag_layout
from fer.app.examples import example_photo_path, example_video_path

SIZES = {"1366x800": (1366, 800), "390x844": (390, 844)}
PANEL = re.compile(r"Face #\d+ of \d+ in view")
FACE_TOP_IN_PHOTO = 48  # the example photo's face box starts at y = 48.6 (MTCNN, 400x400)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no browser: {CHROMIUM} missing (apt-get install -y chromium)"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    work = tmp_path_factory.mktemp("browser")
    y4m = work / "camera.y4m"
    camera = clip_to_y4m(example_video_path(), y4m)
    with app_server(work) as (url, log):
        (work / "url").write_text(url)
        try:
            yield url, camera, y4m, work
        finally:
            print(log.read_text()[-3000:])


def face_at_the_top_y4m(out: Path, frames: int = 30) -> Camera:
    """A still camera: the example photo with its face 4 px below the picture's top edge."""
    from PIL import Image

    photo = np.asarray(Image.open(example_photo_path()).convert("RGB"))[FACE_TOP_IN_PHOTO - 4:]
    canvas = np.full((H, W, 3), 128, np.uint8)
    canvas[:photo.shape[0], 120:120 + photo.shape[1]] = photo
    write_y4m([canvas] * frames, out)
    return Camera.of([canvas])


@pytest.fixture(scope="module")
def pw():
    """One Playwright for the module: its sync API cannot be started twice in one thread."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@contextmanager
def browser(pw, work: Path, y4m: Path, size: str):
    """Chromium at `size` on the app's first screen (never scrolled), `y4m` as its camera."""
    w, h = SIZES[size]
    ctx = pw.chromium.launch_persistent_context(
        str(work / f"profile_{y4m.stem}_{size}"), executable_path=str(CHROMIUM), headless=True,
        args=chromium_args(y4m), viewport={"width": w, "height": h})
    try:
        p = ctx.pages[0] if ctx.pages else ctx.new_page()
        p.goto(_url(work), timeout=120_000)
        p.frame_locator(IFRAME).get_by_role("button", name="START").wait_for(timeout=240_000)
        yield p
    finally:
        ctx.close()


@pytest.fixture(scope="module", params=list(SIZES))
def page(request, pw, server):
    _, camera, y4m, work = server
    with browser(pw, work, y4m, request.param) as p:
        yield p, request.param, camera


def stop(p) -> None:
    button = p.frame_locator(IFRAME).get_by_role("button", name="STOP")
    if button.is_visible():
        button.click()


def _url(work: Path) -> str:
    return (work / "url").read_text()


def screenshot(p, name: str) -> None:
    """A small PNG of what the viewport shows (a 256-colour palette keeps it under ~150 kB)."""
    folder = os.environ.get("FER_SCREENSHOTS")
    if not folder:
        return
    from PIL import Image

    path = Path(folder) / f"{name}.png"
    p.mouse.move(0, 0)  # no hover tooltip in the picture
    p.wait_for_timeout(300)
    p.screenshot(path=str(path))
    Image.open(path).convert("RGB").quantize(256).save(path, optimize=True)


def script_finished(p, timeout_ms: int = 120_000) -> None:
    """Until Streamlit's "Running..." indicator has gone: every element of this run is on the page."""
    p.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=timeout_ms)


def in_view(box: dict | None, height: int) -> bool:
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= height


def test_start_is_in_the_first_screen(page):
    p, size, _ = page
    _, height = SIZES[size]
    start = p.frame_locator(IFRAME).get_by_role("button", name="START")
    assert in_view(start.bounding_box(), height), (size, start.bounding_box())
    title = p.get_by_role("heading", name="Facial emotion recognition")
    assert in_view(title.bounding_box(), height)
    notices = p.locator('[data-testid="stAlert"]:visible')
    assert notices.count() == 1 and "Art. 50(3)" in notices.first.inner_text()
    screenshot(p, f"app_first_screen_{size}")


def test_example_photo_works_without_a_camera(page):
    p, size, _ = page
    p.get_by_role("tab", name="Photo").click()
    p.get_by_role("button", name="Try the example photo").click()
    p.get_by_text("1 face found").wait_for(timeout=120_000)
    table = p.locator('[data-testid="stDataFrame"]:visible').first
    table.wait_for(timeout=30_000)
    assert p.get_by_text("NASA, public domain").count() >= 1
    grid = table.bounding_box()
    assert grid["x"] >= 0 and grid["x"] + grid["width"] <= SIZES[size][0]  # the table fits the width
    screenshot(p, f"app_photo_{size}")


HEADING = re.compile(r"Person (\d+) · mostly (\w+) \(")
MAX_VIDEO_PAGE_SCREENS = 4  # the example's results, top to bottom (issue 23.3: 7,400 px for 9 s)


def page_height(p) -> int:
    """The height of the page's content: Streamlit scrolls its main area, not the document."""
    return p.evaluate("""() => Math.max(document.documentElement.scrollHeight,
        ...[...document.querySelectorAll('[data-testid="stMain"], [data-testid="stAppViewContainer"]')]
            .map(e => e.scrollHeight))""")


def whole_page_screenshot(p, name: str, height: int) -> None:
    """The whole page as one picture: the viewport made as tall as the page, then put back."""
    size = p.viewport_size
    p.set_viewport_size({"width": size["width"], "height": max(height, size["height"])})
    try:
        p.wait_for_timeout(800)  # plotly redraws at the new size
        screenshot(p, name)
    finally:
        p.set_viewport_size(size)


def test_example_video_in_the_video_tab(page):
    """Issue 23.3/23.1 in the browser: the example video needs no upload; each person's heading
    names the label with the most time in their lane of the one shared timeline; the details
    table fits the width; the page is a few screens long, not 7,400 px."""
    p, size, _ = page
    width, height = SIZES[size]
    p.get_by_role("tab", name="Video file").click()
    p.get_by_role("button", name="Analyse the example video").click()
    p.get_by_text("Processed ").first.wait_for(timeout=240_000)
    # Streamlit sends the results element by element: under load the chart can be on the page
    # while the headings below it are still on their way, so wait for the script's run to end.
    p.get_by_text(re.compile(r"Person \d+ · mostly ")).first.wait_for(timeout=60_000)
    script_finished(p)
    chart = p.locator('.js-plotly-plot:visible').last
    chart.wait_for(timeout=60_000)
    lanes = chart.evaluate("""g => { const out = {};
        for (const t of g.data) t.y.forEach((y, i) => {
            out[y] = out[y] || {}; out[y][t.name] = (out[y][t.name] || 0) + t.x[i]; });
        return out; }""")
    headings = [HEADING.match(t) for t in p.locator('[data-testid="stMarkdownContainer"]:visible').all_inner_texts()]
    people = [(int(h[1]), h[2]) for h in headings if h]
    assert len(people) >= 2, people
    for track_id, named in people:
        lane = lanes[f"Person {track_id}"]
        assert max(lane, key=lane.get) == named, (track_id, named, lane)
    assert p.get_by_text("public domain").count() >= 1  # the example's credit
    p.get_by_text(f"Person {people[0][0]} in detail").click()
    table = p.locator('[data-testid="stDataFrame"]:visible').first
    table.wait_for(timeout=30_000)
    grid = table.bounding_box()
    assert grid["x"] >= 0 and grid["x"] + grid["width"] <= width  # the table fits the width
    p.get_by_text(f"Person {people[0][0]} in detail").click()  # closed again, as a visitor finds it
    p.wait_for_timeout(500)
    tall = page_height(p)
    print(f"video tab at {size}: page {tall} px tall ({tall / height:.1f} screens)")
    assert tall <= MAX_VIDEO_PAGE_SCREENS * height, tall
    whole_page_screenshot(p, f"app_video_{size}", tall)


def test_live_panel_reads_like_the_video(page):
    """Streaming the example video: the panel names the followed face in the colour its tag has on
    the video, offers the faces in view to follow, and shows no delta chip."""
    p, size, camera = page
    p.get_by_role("tab", name="Live webcam").click()
    try:
        start_stream(p, camera)
        p.get_by_text(PANEL).first.wait_for(timeout=60_000)
        # The panel's readings against the video's tags, as faces come and go in the clip (one
        # face, then four). 40 readings, not 20: the default's labels sit near the 'uncertain'
        # threshold on these faces, and a label shown for a frame or two can miss the samples:
        # with 20 (one miss allowed), two such misses failed one CI run with a training job beside it.
        looks = []
        for _ in range(240):
            looks.append(look(p, camera))
            checks, failures = agreement(looks)
            if checks >= 40:
                break
            p.wait_for_timeout(250)
        assert checks >= 40 and agrees(checks, failures), (checks, failures)
        assert p.get_by_text("Follow").count() >= 1
        assert p.locator('[data-testid="stMetricDelta"]').count() == 0
        p.locator(".js-plotly-plot .bars").first.wait_for(timeout=60_000)
        screenshot(p, f"app_live_{size}")
        if SIZES[size][0] < 600:  # on a phone the panel is below the video: show it too
            p.get_by_text(PANEL).first.scroll_into_view_if_needed()
            screenshot(p, f"app_live_panel_{size}")
    finally:
        stop(p)


@pytest.mark.parametrize("size", list(SIZES))
def test_label_tag_of_a_face_at_the_top_is_inside_the_picture(pw, server, size):
    """Issue 23.2: a face near the top had its tag cut off ('ppy 42%'). With the face 4 px below
    the top edge the tag goes just inside the box: the browser's video shows it whole (as tall as
    a tag is on a frame of that size), at the top, in the colour of the panel's label."""
    work = server[3]
    y4m = work / "face_at_top.y4m"
    camera = face_at_the_top_y4m(y4m)
    with browser(pw, work, y4m, size) as p:
        try:
            screen = start_stream(p, camera)
            for _ in range(40):  # the first returned frames are blurry while VP8 ramps up
                if len(screen.tags) == 1 and screen.tags[0].label == screen.panel.label:
                    break
                p.wait_for_timeout(250)
                screen = look(p, camera)
            assert len(screen.tags) == 1, screen.tags
            tag = screen.tags[0]
            fh, fw = screen.frame.shape[:2]
            scale, thickness = label_font((fh, fw))
            whole = tag_layout("#1 Happy 92%", (100, 200, 200, 300), fw, fh, scale, thickness)
            assert tag.y1 < 20, tag  # the face is at the top: no room for a tag above it
            assert tag.height >= whole.y2 - whole.y1 - 2, (tag, whole)  # not cut by the edge
            assert tag.label == screen.panel.label, (tag, screen.panel)
        finally:
            stop(p)
