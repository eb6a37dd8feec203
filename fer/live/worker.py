"""A worker process that analyses the newest frame, fed through shared memory.

Why a process: in one interpreter the models, aiortc's VP8 decoding and encoding and Streamlit
take turns on one lock, and on a 2-core machine the returned video fell to ~3 frames/s. Here
the server's side only copies a frame into one of two shared buffers (well under a millisecond)
and draws the newest result; the worker, a process of its own, runs the whole pipeline. (It
runs at the same priority as the server: measured on 2 cores, a lower one starved it while the
video gained nothing.) One frame is in flight at a time; while it is, the newest frame waits in the
other buffer and older ones are dropped, so the analysis never falls behind the camera.

The protocol over one socket pair (pickled tuples): server -> worker ("spec", AnalyserSpec),
("reset",), ("frame", slot, seq, t, h, w, scale), ("stop",); worker -> server ("ready",),
("result", LiveResult), ("error", seq, message).
"""

from __future__ import annotations

import argparse
import logging
import mmap
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, Pipe
from pathlib import Path

import cv2
import numpy as np

from fer.live.load import LoadController, Workload, level_workload
from fer.pipeline import PipelineConfig
from fer.recognizer import DEFAULT_MAX_FACES
from fer.results import FaceEmotion, StageTimings

log = logging.getLogger(__name__)

MAX_FRAME_BYTES = 1920 * 1080 * 3  # one buffer; larger frames are scaled down to fit
READY_TIMEOUT_S = 120.0  # first start imports and loads the models (seconds on a busy CPU)


@dataclass(frozen=True)
class AnalyserSpec:
    """Everything the worker needs to build its pipeline; picklable, compared to skip rebuilds."""

    weights: str
    min_score: float = 0.9
    min_face_size: int = 40
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    max_faces: int | None = DEFAULT_MAX_FACES  # the largest faces of a frame analysed
    adaptive: bool = True  # let the load controller lower the detection work
    threads: int = 1  # one thread: the other core is the video's


@dataclass(frozen=True)
class LiveResult:
    seq: int  # the analysed frame's number, as the server counted it
    t: float  # the frame's capture time (the server's time.monotonic())
    faces: tuple[FaceEmotion, ...]  # smoothed, tracked, in the frame's own pixel coordinates
    detected: bool
    timings: StageTimings
    frame_ms: float  # wall time of the analysis in the worker (includes waiting for a core)
    level: int  # load level (0 = the quality asked for)
    workload: Workload


def _scale_face(face: FaceEmotion, k: float) -> FaceEmotion:
    return replace(face, box=tuple(float(v) * k for v in face.box),
                   landmarks=(np.asarray(face.landmarks, np.float32) * k))


def _frame_buffer(size: int) -> tuple[str, mmap.mmap]:
    """A file-backed buffer in /dev/shm (plain tmp where there is none), mapped here and opened by
    name in the worker; the server removes the name once the worker has mapped it."""
    folder = "/dev/shm" if os.path.isdir("/dev/shm") else None
    fd, path = tempfile.mkstemp(prefix="fer_live_", dir=folder)
    try:
        os.ftruncate(fd, size)
        return path, mmap.mmap(fd, size)
    finally:
        os.close(fd)


class AnalysisWorker:
    """The server's handle on one worker process. `submit` never blocks on the analysis."""

    def __init__(self, spec: AnalyserSpec, ready_timeout: float = READY_TIMEOUT_S) -> None:
        self.spec = spec
        self._lock = threading.Lock()
        self._latest: LiveResult | None = None
        self._in_flight: int | None = None  # buffer the worker is reading
        self._waiting: tuple | None = None  # the newest frame's message, its buffer already filled
        self._seq = 0
        self._ready = threading.Event()
        self.errors = 0
        paths, self._buffers = zip(*(_frame_buffer(MAX_FRAME_BYTES) for _ in range(2)))
        here, there = Pipe(duplex=True)
        self._conn: Connection = here
        package_root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "fer.live", "--fd", str(there.fileno()), *paths],
            pass_fds=(there.fileno(),), env=env, stdin=subprocess.DEVNULL)
        there.close()
        self._conn.send(("spec", spec))
        self._reader = threading.Thread(target=self._read, name="fer-live-results", daemon=True)
        self._reader.start()
        ok = self._ready.wait(ready_timeout)
        for p in paths:  # both sides have mapped them (or the worker failed): drop the names
            Path(p).unlink(missing_ok=True)
        if not ok:
            self.close()
            raise RuntimeError("the analysis worker did not start")

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    @property
    def latest(self) -> LiveResult | None:
        return self._latest

    def configure(self, spec: AnalyserSpec) -> None:
        if spec != self.spec:
            self.spec = spec
            self._send(("spec", spec))

    def reset(self) -> None:
        """Forget tracks, smoothing and the last result (a new viewer)."""
        with self._lock:
            self._latest, self._waiting = None, None
        self._send(("reset",))

    def submit(self, rgb: np.ndarray, t: float) -> int:
        """Offer an RGB uint8 frame captured at `t`; it replaces any frame still waiting.
        Returns the frame's sequence number."""
        h, w = rgb.shape[:2]
        scale = min(1.0, (MAX_FRAME_BYTES / (h * w * 3)) ** 0.5)
        if scale < 1.0:
            rgb = cv2.resize(rgb, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA)
            h, w = rgb.shape[:2]
        with self._lock:
            self._seq += 1
            slot = 1 if self._in_flight == 0 else 0
            np.ndarray((h, w, 3), np.uint8, buffer=self._buffers[slot])[:] = rgb
            msg = ("frame", slot, self._seq, t, h, w, scale)
            if self._in_flight is None:
                self._in_flight = slot
                self._send(msg)
            else:
                self._waiting = msg
            return self._seq

    def _send(self, msg: tuple) -> None:
        try:
            self._conn.send(msg)
        except (OSError, ValueError):  # the worker is gone; `alive` tells the caller
            pass

    def _read(self) -> None:
        while True:
            try:
                msg = self._conn.recv()
            except (EOFError, OSError):
                return
            if msg[0] == "ready":
                self._ready.set()
                continue
            with self._lock:
                if msg[0] == "result":
                    self._latest = msg[1]
                else:  # ("error", seq, text): one bad frame; the next gets a fresh try
                    self.errors += 1
                    log.warning("live analysis failed on frame %s: %s", msg[1], msg[2])
                self._in_flight = None
                if self._waiting is not None:  # the newest frame is ready in the other buffer
                    waiting, self._waiting = self._waiting, None
                    self._in_flight = waiting[1]
                    self._send(waiting)

    def close(self) -> None:
        self._send(("stop",))
        try:
            self._proc.wait(5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
        self._conn.close()
        for b in self._buffers:
            b.close()


# -- the worker process ---------------------------------------------------------------------------
class _Analyser:
    """The worker's state: the pipeline for the current spec and its load controller."""

    def __init__(self) -> None:
        self.spec: AnalyserSpec | None = None
        self.pipeline = None
        self.control = LoadController()
        self.models = None  # fer.analysis.ModelCache, created with the first spec

    def configure(self, spec: AnalyserSpec) -> None:
        from fer import runtime
        from fer.analysis import AnalysisSettings, ModelCache
        from fer.detection import DetectorConfig
        from fer.pipeline import EmotionPipeline

        runtime.set_threads(spec.threads)
        old, self.spec = self.spec, spec
        self.models = self.models or ModelCache(max_models=1)  # one model at a time
        recognizer = self.models.recognizer(AnalysisSettings(
            model=spec.weights, max_faces=spec.max_faces,
            detector=DetectorConfig(min_score=spec.min_score, min_face_size=spec.min_face_size)))
        threshold = spec.pipeline.uncertain_below
        if self.pipeline is None or old is None or replace(old.pipeline, uncertain_below=threshold) != spec.pipeline:
            self.pipeline = EmotionPipeline(recognizer, spec.pipeline)
            self.control = LoadController()
        else:  # thresholds only: keep tracks and smoothing
            self.pipeline.recognizer = recognizer
            self.pipeline.set_uncertain_below(threshold)
        self._apply_level()

    def _apply_level(self) -> Workload:
        w = level_workload(self.control.level if self.spec.adaptive else 0, self.spec.pipeline.detect_every)
        self.pipeline.set_workload(w.detect_every, w.detect_side, w.recheck_score)
        return w

    def reset(self) -> None:
        self.pipeline.reset()
        self.control = LoadController()
        self._apply_level()

    def analyse(self, frame: np.ndarray, seq: int, t: float, scale: float) -> LiveResult:
        start = time.perf_counter()
        result = self.pipeline.process(frame, t)
        frame_ms = 1e3 * (time.perf_counter() - start)
        workload = Workload(self.pipeline.config.detect_every, self.pipeline.config.detect_side,
                            self.pipeline.config.recheck_score)
        level = self.control.level
        if self.spec.adaptive:
            self.control.update(frame_ms, time.monotonic())
            self._apply_level()
        faces = result.faces if scale == 1.0 else [_scale_face(f, 1 / scale) for f in result.faces]
        return LiveResult(seq, t, tuple(faces), result.detected, result.timings, frame_ms, level, workload)


def serve(conn: Connection, paths: list[str]) -> None:
    buffers = []
    for p in paths:
        with open(p, "r+b") as fh:
            buffers.append(mmap.mmap(fh.fileno(), MAX_FRAME_BYTES))
    analyser = _Analyser()
    ready = False
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):  # the server is gone
            return
        kind = msg[0]
        if kind == "stop":
            return
        if kind == "spec":
            analyser.configure(msg[1])
            if not ready:
                frame = np.zeros((480, 640, 3), np.uint8)  # pay lazy allocations before the first frame
                analyser.analyse(frame, 0, 0.0, 1.0)
                analyser.reset()
                conn.send(("ready",))
                ready = True
        elif kind == "reset":
            analyser.reset()
        elif kind == "frame":
            _, slot, seq, t, h, w, scale = msg
            frame = np.ndarray((h, w, 3), np.uint8, buffer=buffers[slot])
            try:
                conn.send(("result", analyser.analyse(frame, seq, t, scale)))
            except Exception as e:
                log.exception("frame %s", seq)
                conn.send(("error", seq, f"{type(e).__name__}: {e}"))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m fer.live", description=__doc__)
    p.add_argument("--fd", type=int, required=True)
    p.add_argument("paths", nargs=2)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s fer-worker: %(message)s")
    logging.getLogger("fer.tracking").setLevel(logging.INFO)  # each new face id, with why, in the server log
    serve(Connection(args.fd), args.paths)
