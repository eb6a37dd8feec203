"""Drive the live webcam tab as a user does: the README's app command, headless Chromium whose fake
camera plays a real clip, START pressed; then measure what the user sees over a time window.

Shared by the end-to-end tests (`tests/test_app_e2e.py`, `tests/test_app_browser.py`) and the live
benchmark (`benchmarks/bench_live.py`), so all measure the same thing the same way. Every figure
is read from the browser (`benchmarks/live_screen.py`): the returned video's pixels, its decoder's
frame count and the panel's text. The app is started exactly as a user starts it and is told
nothing about being measured.

Figures of a window (`LiveWindow`), from samples of the page every `SAMPLE_S`:
- video_fps_browser: frames the browser decoded per second (`getVideoPlaybackQuality`);
- boxed_share: share of sampled video frames with a label tag drawn on them (the clip shows a
  face in every frame, checked by `face_share_offline`); multi_tag_share: with more than one;
- analysis_fps, lag_p50_ms / lag_p95_ms, busy_share: the rates line below the video, as shown;
- track_ids: every face id the panel named or offered to follow;
- agreement: each panel reading against the tags the video showed within a second of it.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from benchmarks.live_screen import Camera, PanelText, SeenTag, find_tags

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
IFRAME = 'iframe[title="streamlit_webrtc.component.webrtc_streamer"]'
W, H, FPS = 640, 480, 30
# Variables that tune thread pools: a user has none of them set, so neither do we.
TUNING_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                    "ORT_NUM_THREADS", "FER_THREADS", "FER_LIVE_SESSIONS", "FER_ICE_SERVERS")


# -- the fake camera -------------------------------------------------------------------------------
def letterbox(rgb: np.ndarray) -> np.ndarray:
    """A frame scaled into 640x480 with its aspect kept (grey bars), as a webcam would send it."""
    h, w = rgb.shape[:2]
    s = min(W / w, H / h)
    small = cv2.resize(rgb, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    canvas = np.full((H, W, 3), 128, np.uint8)
    y0, x0 = (H - small.shape[0]) // 2, (W - small.shape[1]) // 2
    canvas[y0:y0 + small.shape[0], x0:x0 + small.shape[1]] = small
    return canvas


def write_y4m(frames: list[np.ndarray], out: Path) -> None:
    """640x480 RGB frames as a 30 fps YUV4MPEG2 file, Chromium's fake camera (which loops it)."""
    with out.open("wb") as fh:
        fh.write(f"YUV4MPEG2 W{W} H{H} F{FPS}:1 Ip A1:1 C420jpeg\n".encode())
        for f in frames:
            fh.write(b"FRAME\n" + cv2.cvtColor(f, cv2.COLOR_RGB2YUV_I420).tobytes())


def clip_to_y4m(clip: Path, out: Path, ping_pong: bool = True) -> Camera:
    """Write `clip` as the fake camera's file at 640x480, 30 fps: forward then backward, so the
    loop is one continuous shot with no jump. Returns the camera (its frames, each once)."""
    from fer.video import iter_frames, probe_video

    src_fps = probe_video(clip).fps or FPS
    frames = [letterbox(f.rgb) for f in iter_frames(clip)]
    if not frames:
        raise ValueError(f"no frames in {clip}")
    n_out = max(1, round(len(frames) * FPS / src_fps))  # resample to 30 fps by nearest frame
    frames = [frames[min(len(frames) - 1, int(i * src_fps / FPS))] for i in range(n_out)]
    write_y4m(frames + frames[-2:0:-1] if ping_pong else frames, out)
    return Camera.of(frames)


def face_share_offline(clip: Path, every: int = 3) -> float:
    """Share of the clip's frames (640x480 as the camera sends them) where the detector finds a
    face at its exact setting: the ground truth for 'a face is in view'."""
    from fer.detection import DetectorConfig, FaceDetector
    from fer.video import iter_frames

    detector = FaceDetector(DetectorConfig(min_face_size=40))
    found = [bool(detector.detect(letterbox(f.rgb))) for f in iter_frames(clip, every=every)]
    return float(np.mean(found)) if found else 0.0


# -- the app, as the README starts it -----------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def user_environment() -> dict[str, str]:
    """The caller's environment without any tuning variable: what a user has."""
    env = {k: v for k, v in os.environ.items() if k not in TUNING_VARIABLES}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError("the app exited early")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"the app was not healthy after {timeout:.0f} s")


@contextmanager
def app_server(workdir: Path, timeout: float = 600):
    """`bash .ci/app` (the README's app command) on a free port; yields (url, log file)."""
    port, log_path = free_port(), workdir / "streamlit.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        ["bash", ".ci/app", "--server.port", str(port), "--server.address", "127.0.0.1",
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=user_environment(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, timeout)
        yield url, log_path
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        log.close()


# -- the browser ----------------------------------------------------------------------------------
def chromium_args(y4m: Path) -> list[str]:
    return ["--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={y4m}",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", "--disable-quic"]


# The returned video's current frame (RGBA, base64) and the decoder's frame count, read in one go.
GRAB_JS = """() => {
    const v = document.querySelector('video');
    if (!v || !v.videoWidth) return null;
    const c = document.createElement('canvas');
    c.width = v.videoWidth; c.height = v.videoHeight;
    const g = c.getContext('2d', {willReadFrequently: true});
    g.drawImage(v, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    let s = '';
    for (let i = 0; i < d.length; i += 0x8000) s += String.fromCharCode.apply(null, d.subarray(i, i + 0x8000));
    return {w: c.width, h: c.height, rgba: btoa(s), decoded: v.getVideoPlaybackQuality().totalVideoFrames};
}"""


@dataclass(frozen=True)
class Screen:
    """One look at the page: the returned video's frame, what is drawn on it, and the panel."""

    t: float
    decoded: int | None  # frames the browser has decoded so far
    frame: np.ndarray | None
    tags: tuple[SeenTag, ...]
    panel: PanelText


def video_frame(page) -> tuple[np.ndarray | None, int | None]:
    frame = page.locator(IFRAME).element_handle().content_frame()
    got = frame.evaluate(GRAB_JS)
    if not got:
        return None, None
    rgba = np.frombuffer(base64.b64decode(got["rgba"]), np.uint8).reshape(got["h"], got["w"], 4)
    return np.ascontiguousarray(rgba[..., :3]), got["decoded"]


def look(page, camera: Camera) -> Screen:
    """The panel's text and then the video's frame, read back to back."""
    panel = PanelText.parse(page.evaluate("() => document.body.innerText"))
    frame, decoded = video_frame(page)
    tags = tuple(find_tags(frame, camera)) if frame is not None else ()
    return Screen(time.monotonic(), decoded, frame, tags, panel)


def start_stream(page, camera: Camera, timeout: float = 300, min_boxed: int = 3) -> Screen:
    """Click START and wait until the panel reads a face and tags are drawn on the video; press
    START again if the component resets its session (a known flake under load) or nothing
    changes for a while. Returns the last look."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    component = page.frame_locator(IFRAME)
    start = component.get_by_role("button", name="START")
    start.click(timeout=240_000)  # first render may wait for the worker's models
    deadline, boxed, last, last_change = time.monotonic() + timeout, 0, None, time.monotonic()
    screen = None
    while time.monotonic() < deadline:
        screen = look(page, camera)
        boxed = boxed + 1 if screen.tags else 0
        if boxed >= min_boxed and screen.panel.face_id is not None:
            return screen
        if screen.panel != last:
            last, last_change = screen.panel, time.monotonic()
        try:
            if start.is_visible():
                start.click(timeout=10_000)
                last_change = time.monotonic()
            elif time.monotonic() - last_change > 20:
                component.get_by_role("button", name="STOP").click(timeout=10_000)
                start.click(timeout=30_000)
                last_change = time.monotonic()
        except PlaywrightTimeout:  # the button changed under us (the component re-rendered): look again
            pass
        page.wait_for_timeout(300)
    raise TimeoutError(f"no analysed frames came back within {timeout:.0f} s: {screen}")


AGREEMENT_S = 1.0  # a panel reading is checked against the tags the video showed this long around it


def disagreement(reading: Screen, around: list[Screen]) -> str | None:
    """None when the panel's label is the colour of a tag the video showed in the looks `around`
    it, else what differed. Around, not at: the panel redraws every 0.5 s and reaches the browser
    over the page's socket, the video over WebRTC with its own delay, so the two can show the
    same change a few hundred milliseconds apart, in either order."""
    shown = {t.label for s in around for t in s.tags}
    if reading.panel.label in shown:
        return None
    return (f"panel at {reading.t:.1f} s: face #{reading.panel.face_id} {reading.panel.label}; "
            f"video within {AGREEMENT_S:.0f} s: {sorted(shown)}")


def agreement(screens: list[Screen]) -> tuple[int, list[str]]:
    """(checks, failures) over the panel's readings that have a second of looks on both sides,
    with tags in view in it."""
    checks, failures = 0, []
    for s in screens:
        if s.panel.label is None or not screens[0].t + AGREEMENT_S <= s.t <= screens[-1].t - AGREEMENT_S:
            continue
        around = [b for b in screens if abs(b.t - s.t) <= AGREEMENT_S]
        if not any(b.tags for b in around):
            continue
        checks += 1
        outcome = disagreement(s, around)
        if outcome is not None:
            failures.append(outcome)
    return checks, failures


# The video is sampled about 4 times a second, so a label it showed for a frame or two (a
# confidence hovering at the 'uncertain' threshold) can be on the panel and in no sampled frame.
# A panel that reads another snapshot than the video's fails most checks, not a few.
AGREEMENT_MIN = 0.95


def agrees(checks: int, failures: list[str]) -> bool:
    return 1 - len(failures) / max(checks, 1) >= AGREEMENT_MIN


@dataclass
class LiveWindow:
    seconds: float
    looks: int
    video_fps_browser: float
    boxed_share: float
    multi_tag_share: float
    unlabelled_tag_share: float  # tags whose colour is no label's (fading, or a colour shift)
    analysis_fps: float
    lag_p50_ms: float
    lag_p95_ms: float
    busy_share: float
    track_ids: list[int]
    agreement_checks: int
    agreement_failures: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


SAMPLE_S = 0.2


def summarise(screens: list[Screen]) -> LiveWindow:
    """The figures of a window of looks (pure, so the arithmetic is tested without a browser)."""
    first, last = screens[0], screens[-1]
    span = max(last.t - first.t, 1e-6)
    seen = [s for s in screens if s.frame is not None]
    tags = [t for s in seen for t in s.tags]
    panels = [s.panel for s in screens if s.panel.analysis_fps is not None]
    ids = {i for p in (s.panel for s in screens) for i in (*p.ids, *([p.face_id] if p.face_id else []))}
    checks, failures = agreement(screens)
    decoded = (last.decoded - first.decoded) / span if first.decoded is not None and last.decoded is not None else 0.0
    return LiveWindow(
        seconds=span, looks=len(screens), video_fps_browser=decoded,
        boxed_share=float(np.mean([bool(s.tags) for s in seen])) if seen else 0.0,
        multi_tag_share=float(np.mean([len(s.tags) > 1 for s in seen])) if seen else 0.0,
        unlabelled_tag_share=float(np.mean([t.label is None for t in tags])) if tags else 0.0,
        analysis_fps=float(np.median([p.analysis_fps for p in panels])) if panels else 0.0,
        lag_p50_ms=_pct([p.lag_ms for p in panels if p.lag_ms is not None], 50),
        lag_p95_ms=_pct([p.lag_ms for p in panels if p.lag_ms is not None], 95),
        busy_share=float(np.mean([p.busy for p in panels])) if panels else 0.0,
        track_ids=sorted(ids), agreement_checks=checks, agreement_failures=failures)


def measure(page, camera: Camera, seconds: float = 20.0) -> LiveWindow:
    """Figures over the next `seconds` of streaming, from a look every `SAMPLE_S`."""
    screens, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        t = time.monotonic()
        screens.append(look(page, camera))
        page.wait_for_timeout(max(0.0, SAMPLE_S - (time.monotonic() - t)) * 1000)
    return summarise(screens)


@contextmanager
def busy_core():
    """One CPU core kept busy by another process (a user's other app), for the duration."""
    hog = subprocess.Popen(["python3", "-c", "while True: pass"], start_new_session=True)
    try:
        yield hog
    finally:
        hog.kill()
        hog.wait(5)


@contextmanager
def live_page(url: str, y4m: Path, profile: Path):
    """Headless Chromium on the app's page with the fake camera; yields the page."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=True, args=chromium_args(y4m),
            viewport={"width": 1280, "height": 1400})
        try:
            page = ctx.pages[0] if ctx.pages else ctx.new_page()
            page.goto(url, timeout=120_000)
            yield page
        finally:
            ctx.close()
