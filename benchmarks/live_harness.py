"""Drive the live webcam tab as a user does: the README's app command, headless Chromium whose fake
camera plays a real clip, START pressed; then measure what the user gets over a time window.

Shared by the end-to-end tests (`tests/test_app_e2e.py`) and the live benchmark
(`benchmarks/bench_live.py`), so both measure the same thing the same way.

Figures of a window (`LiveWindow`):
- video_fps_browser: frames the browser decoded per second (`getVideoPlaybackQuality`), what the
  user sees;
- video_fps_server: distinct frames the processor returned per second;
- analysis_fps: distinct analyses drawn per second;
- boxed_share: share of returned frames with a face drawn on them (the clip shows a face in
  every frame, checked by `face_share_offline`);
- age_p50_ms / age_p95_ms: age of the drawn analysis (capture of the analysed frame to drawing);
- track_ids: every face id drawn so far.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

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


def clip_to_y4m(clip: Path, out: Path, ping_pong: bool = True) -> int:
    """Write `clip` as a 640x480, 30 fps YUV4MPEG2 file for Chromium's fake camera (which loops
    it). Forward then backward, so the loop is one continuous shot with no jump. Returns frames."""
    from fer.video import iter_frames, probe_video

    src_fps = probe_video(clip).fps or FPS
    frames = [letterbox(f.rgb) for f in iter_frames(clip)]
    if not frames:
        raise ValueError(f"no frames in {clip}")
    n_out = max(1, round(len(frames) * FPS / src_fps))  # resample to 30 fps by nearest frame
    frames = [frames[min(len(frames) - 1, int(i * src_fps / FPS))] for i in range(n_out)]
    if ping_pong:
        frames = frames + frames[-2:0:-1]
    with out.open("wb") as fh:
        fh.write(f"YUV4MPEG2 W{W} H{H} F{FPS}:1 Ip A1:1 C420jpeg\n".encode())
        for f in frames:
            fh.write(b"FRAME\n" + cv2.cvtColor(f, cv2.COLOR_RGB2YUV_I420).tobytes())
    return len(frames)


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


def user_environment(counter: Path) -> dict[str, str]:
    """The caller's environment without any tuning variable, plus the test's progress file."""
    env = {k: v for k, v in os.environ.items() if k not in TUNING_VARIABLES}
    env.update(FER_E2E_COUNTER=str(counter), PYTHONUNBUFFERED="1")
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
    """`bash .ci/app` (the README's app command) on a free port; yields (url, counter file, log)."""
    port, counter, log_path = free_port(), workdir / "frames.json", workdir / "streamlit.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        ["bash", ".ci/app", "--server.port", str(port), "--server.address", "127.0.0.1",
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=user_environment(counter), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, timeout)
        yield url, counter, log_path
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        log.close()


def read_counter(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


# -- the browser ----------------------------------------------------------------------------------
def chromium_args(y4m: Path) -> list[str]:
    return ["--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={y4m}",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", "--disable-quic"]


def browser_frames(page) -> int | None:
    """Frames the browser has decoded from the returned video so far (None before any video)."""
    frame = page.locator(IFRAME).element_handle().content_frame()
    return frame.evaluate("""() => { const v = document.querySelector('video');
        return v && v.videoWidth ? v.getVideoPlaybackQuality().totalVideoFrames : null; }""")


def start_stream(page, counter: Path, timeout: float = 300, min_analysed: int = 10) -> dict:
    """Click START and wait until analyses are drawn on returned frames; press START again if the
    component resets its session (a known flake under load) or nothing arrives for a while."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    component = page.frame_locator(IFRAME)
    start = component.get_by_role("button", name="START")
    start.click(timeout=240_000)  # first render may wait for the worker's models
    deadline, last, last_change = time.monotonic() + timeout, None, time.monotonic()
    while time.monotonic() < deadline:
        state = read_counter(counter)
        if state.get("frames", 0) >= min_analysed and state.get("boxed", 0) >= min_analysed:
            return state
        if state != last:
            last, last_change = state, time.monotonic()
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
        page.wait_for_timeout(500)
    raise TimeoutError(f"no analysed frames came back within {timeout:.0f} s: {read_counter(counter)}")


@dataclass
class LiveWindow:
    seconds: float
    video_fps_browser: float
    video_fps_server: float
    analysis_fps: float
    boxed_share: float
    age_p50_ms: float
    age_p95_ms: float
    max_level: int
    track_ids: list[int]
    agreement_checks: int
    agreement_failures: list[str]

    def to_dict(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


PANEL_FACE = re.compile(r"Face #(\d+) · frame (\d+) · (\w+) (\d+%)")


def panel_reading(page) -> tuple[int, int, str, str] | None:
    """(face id, frame seq, emotion, confidence text) from the panel's one-line reading of the face
    it follows (one element, read in one go, so it cannot mix two redraws); None before one shows."""
    m = PANEL_FACE.search(page.locator("body").inner_text(timeout=10_000))
    return (int(m.group(1)), int(m.group(2)), m.group(3), m.group(4)) if m else None


def check_agreement(page, counter: Path) -> str | None:
    """None when the panel shows exactly what the video drew on that frame, else what differed."""
    from fer.labels import display_name

    reading = panel_reading(page)
    if reading is None:
        return "skip"
    face_id, seq, emotion, conf = reading
    drawn = {d["seq"]: d for d in read_counter(counter).get("drawn", [])}
    if seq not in drawn:
        return "skip"  # older than the history the processor keeps
    match = [f for f in drawn[seq]["faces"] if f["id"] == face_id]
    if not match:
        return f"panel face #{face_id} not drawn on frame {seq}"
    f = match[0]
    if display_name(f["shown"]) != emotion or f"{f['confidence']:.0%}" not in conf:
        return f"frame {seq}: panel {emotion} {conf!r}, video {drawn[seq]}"
    return None


def measure(page, counter: Path, seconds: float = 20.0, agreement_every_s: float = 2.0) -> LiveWindow:
    """Figures over the next `seconds` of streaming."""
    a = read_counter(counter)
    fa, ta = browser_frames(page), time.monotonic()
    checks, failures = 0, []
    next_check = ta + 1.0
    while time.monotonic() - ta < seconds:
        if time.monotonic() >= next_check:
            outcome = check_agreement(page, counter)
            if outcome != "skip":
                checks += 1
                if outcome is not None:
                    failures.append(outcome)
            next_check = time.monotonic() + agreement_every_s
        page.wait_for_timeout(200)
    b = read_counter(counter)
    fb, tb = browser_frames(page), time.monotonic()
    span_server = max(b["t"] - a["t"], 1e-6)
    sent = b["sent"] - a["sent"]
    return LiveWindow(
        seconds=tb - ta,
        video_fps_browser=((fb - fa) / (tb - ta)) if fa is not None and fb is not None else 0.0,
        video_fps_server=sent / span_server,
        analysis_fps=(b["frames"] - a["frames"]) / span_server,
        boxed_share=(b["boxed"] - a["boxed"]) / max(sent, 1),
        age_p50_ms=b["age_p50_ms"], age_p95_ms=b["age_p95_ms"],
        max_level=b.get("level", 0), track_ids=b.get("track_ids", []),
        agreement_checks=checks, agreement_failures=failures)


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
