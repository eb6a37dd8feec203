"""Frames over time: detect -> track -> classify -> smooth, with detection every k-th frame.

MTCNN is the expensive step; between detections the last boxes are reused (faces move little
in 1/10 s) and only the classifier runs, which keeps a 2-core CPU at camera rate. A reused box
that no longer holds a face (MTCNN's last stage says so) brings the next detection forward. Used by the
webcam worker and the video analyser alike, so both behave the same. Each stage is a method of
its own and `process` times them, so a benchmark or the live loop's load control reads real
costs instead of re-implementing the loop.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from fer.recognizer import EmotionRecognizer
from fer.results import Face, FaceEmotion
from fer.smoothing import EmotionSmoother
from fer.tracking import IoUTracker


@dataclass(frozen=True)
class PipelineConfig:
    detect_every: int = 3  # run MTCNN on every k-th frame; 1 = every frame
    half_life_s: float = 0.5
    switch_margin: float = 0.1
    smoothing: bool = True
    max_missed: int = 10  # detections a track may miss before its id is dropped
    # Between detections, MTCNN's last stage re-scores each reused box (~1 ms); below this face
    # probability the face has left its box and the frame is detected again at once. 0 = off.
    recheck_score: float = 0.5
    detect_side: int = 0  # longer side the detector works at; 0 = the detector's own setting

    @property
    def smoothing_on(self) -> bool:
        """Smoothing (the moving average and the label hysteresis) is on; a half-life of 0 turns
        both off, so the live view and video analysis mean the same by it."""
        return self.smoothing and self.half_life_s > 0


@dataclass(frozen=True)
class StageTimings:
    """Milliseconds spent in each stage for one frame (0 for a stage that did not run)."""

    recheck_ms: float = 0.0
    detect_ms: float = 0.0
    classify_ms: float = 0.0
    track_ms: float = 0.0

    @property
    def total_ms(self) -> float:
        return self.recheck_ms + self.detect_ms + self.classify_ms + self.track_ms


@dataclass
class FrameResult:
    index: int
    t: float  # seconds
    faces: list[FaceEmotion]  # tracked; `probs` smoothed, `frame_probs` the frame's own
    detected: bool  # whether MTCNN ran on this frame
    timings: StageTimings = field(default_factory=StageTimings)


@dataclass
class EmotionPipeline:
    recognizer: EmotionRecognizer
    config: PipelineConfig = field(default_factory=PipelineConfig)

    def __post_init__(self):
        self.tracker = IoUTracker(max_missed=self.config.max_missed)
        self.smoother = EmotionSmoother(self.config.half_life_s, self.config.switch_margin)
        self.reset()

    def reset(self) -> None:
        self.tracker.reset()
        self.smoother.reset()
        self._index = 0
        self._since_detection = max(1, self.config.detect_every)  # the first frame is due for detection
        self._faces: list[Face] = []
        self._ids: list[int | None] = []
        self._shape: tuple[int, int] | None = None

    def set_workload(self, detect_every: int, detect_side: int, recheck_score: float) -> None:
        """Change how much detection work each frame gets, keeping tracks and smoothing state
        (the live loop's load control calls this when the CPU is short or free again)."""
        self.config = replace(self.config, detect_every=detect_every, detect_side=detect_side,
                              recheck_score=recheck_score)

    def follow_size(self, frame: np.ndarray) -> None:
        """Frames of one stream may change size mid-way (WebRTC adapts the resolution to the CPU
        and network): scale the tracks and reused boxes with them, so a face keeps its id."""
        shape = frame.shape[:2]
        if self._shape is not None and shape != self._shape:
            sy, sx = shape[0] / self._shape[0], shape[1] / self._shape[1]
            self.tracker.rescale(sx, sy)
            self._faces = [replace(f, box=(f.box[0] * sx, f.box[1] * sy, f.box[2] * sx, f.box[3] * sy),
                                   landmarks=f.landmarks * np.array([sx, sy], np.float32))
                           for f in self._faces]
        self._shape = shape

    # -- stages ---------------------------------------------------------------------------------
    def due(self) -> bool:
        """Whether the schedule asks for detection on this frame."""
        return self._since_detection >= max(1, self.config.detect_every)

    def recheck(self, frame: np.ndarray) -> bool:
        """Whether a reused box has lost its face (MTCNN's last stage on each box, ~1 ms)."""
        if self.config.recheck_score <= 0 or not self._faces:
            return False
        return bool((self.recognizer.detector.still_faces(frame, self._faces) < self.config.recheck_score).any())

    def detect(self, frame: np.ndarray) -> list[Face]:
        """Detect on this frame. A detection that lost a face (a blur, a turn) makes the next
        frame due at once, rather than a whole schedule later."""
        faces = self.recognizer.detect(frame, max_side=self.config.detect_side or None)
        lost = len(faces) < len(self._faces)
        self._faces = faces
        self._since_detection = max(1, self.config.detect_every) - 1 if lost else 0
        return faces

    def classify(self, frame: np.ndarray) -> list[FaceEmotion]:
        return self.recognizer.classify(frame, self._faces)

    def track(self, raw: list[FaceEmotion], detected: bool) -> list[FaceEmotion]:
        if detected:
            raw = self.tracker.update(raw)
            self._ids = [f.track_id for f in raw]
            return raw
        # between detections the boxes are the last detection's, and so are the ids
        return [replace(f, track_id=i) for f, i in zip(raw, self._ids)]

    def smooth(self, faces: list[FaceEmotion], t: float) -> list[FaceEmotion]:
        return self.smoother.update(faces, t) if self.config.smoothing_on else faces

    def process(self, frame: np.ndarray, t: float) -> FrameResult:
        """One RGB uint8 frame at time `t` seconds."""
        clock = time.perf_counter
        t0 = clock()
        self.follow_size(frame)
        detected = self.due() or self.recheck(frame)
        t1 = clock()
        if detected:
            self.detect(frame)
        self._since_detection += 1
        t2 = clock()
        raw = self.classify(frame)
        t3 = clock()
        raw = self.track(raw, detected)
        faces = self.smooth(raw, t)
        t4 = clock()
        result = FrameResult(self._index, t, faces, detected,
                             StageTimings(1e3 * (t1 - t0), 1e3 * (t2 - t1), 1e3 * (t3 - t2), 1e3 * (t4 - t3)))
        self._index += 1
        return result
