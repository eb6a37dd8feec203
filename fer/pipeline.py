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

from fer.labels import UNCERTAIN_BELOW
from fer.recognizer import EmotionRecognizer, largest_faces
from fer.results import Face, FaceEmotion, FrameResult, StageTimings
from fer.scenecut import SceneCutDetector
from fer.smoothing import EmotionSmoother
from fer.tracking import IoUTracker, TrackerConfig, iou_matrix


@dataclass(frozen=True)
class PipelineConfig:
    detect_every: int = 3  # run MTCNN on every k-th frame; 1 = every frame
    half_life_s: float = 0.5
    switch_margin: float = 0.1
    # The 'uncertain' threshold the page shows labels with, and its hysteresis band (smoothing only).
    uncertain_below: float = UNCERTAIN_BELOW
    uncertain_margin: float = 0.1
    min_hold_s: float = 0.4  # a shown label stays at least this long (it cannot be read otherwise)
    smoothing: bool = True
    # New faces are shown after a few detections in a row; lost ones keep their id a while.
    tracking: TrackerConfig = field(default_factory=TrackerConfig)
    # Between detections, MTCNN's last stage re-scores each reused box (~1 ms); below this face
    # probability the face has left its box and the frame is detected again at once. 0 = off.
    recheck_score: float = 0.5
    detect_side: int = 0  # longer side the detector works at; 0 = the detector's own setting
    scene_cuts: bool = True  # at a cut (edited video) tracks end and the frame is detected afresh

    @property
    def smoothing_on(self) -> bool:
        """Smoothing (the moving average and the label hysteresis) is on; a half-life of 0 turns
        both off, so the live view and video analysis mean the same by it."""
        return self.smoothing and self.half_life_s > 0


@dataclass
class EmotionPipeline:
    recognizer: EmotionRecognizer
    config: PipelineConfig = field(default_factory=PipelineConfig)

    def __post_init__(self):
        self.tracker = IoUTracker(self.config.tracking)
        self.smoother = EmotionSmoother(self.config.half_life_s, self.config.switch_margin,
                                        uncertain_below=self.config.uncertain_below,
                                        uncertain_margin=self.config.uncertain_margin,
                                        min_hold_s=self.config.min_hold_s)
        self.cuts = SceneCutDetector()
        self.reset()

    def reset(self) -> None:
        self.tracker.reset()
        self.smoother.reset()
        self.cuts.reset()
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

    def set_uncertain_below(self, threshold: float) -> None:
        """Follow the page's 'uncertain' threshold, keeping tracks and smoothing state (a slider
        moved on the page must not restart the faces' ids)."""
        self.config = replace(self.config, uncertain_below=threshold)
        self.smoother.uncertain_below = threshold

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
    def new_shot(self, frame: np.ndarray) -> bool:
        """Whether `frame` starts a new shot; if so the last boxes and tracks are over and the
        frame is detected afresh."""
        if not (self.config.scene_cuts and self.cuts.update(frame)):
            return False
        self.tracker.new_shot()
        self._faces, self._ids = [], []
        self._since_detection = max(1, self.config.detect_every)
        return True

    def due(self) -> bool:
        """Whether the schedule asks for detection on this frame."""
        return self._since_detection >= max(1, self.config.detect_every)

    def recheck(self, frame: np.ndarray) -> bool:
        """Whether a reused box has lost its face (MTCNN's last stage on each box, ~1 ms)."""
        if self.config.recheck_score <= 0 or not self._faces:
            return False
        return bool((self.recognizer.detector.still_faces(frame, self._faces) < self.config.recheck_score).any())

    def detect(self, frame: np.ndarray) -> list[Face]:
        """Detect on this frame. A face the detection missed is looked for again in a crop around
        its last box, at full resolution (a downscaled or shrunken stream hides small faces that
        are still there), so its box does not flicker off; and a detection that missed a face
        makes the next frame due at once, rather than a whole schedule later. At the most loaded
        level (no re-check) neither extra look is taken."""
        found = self.recognizer.detect(frame, max_side=self.config.detect_side or None, still=False)
        lost = len(found) < len(self._faces)
        if lost and self.config.recheck_score > 0:
            overlap = iou_matrix([f.box for f in self._faces], [f.box for f in found])
            missed = [f.box for f, row in zip(self._faces, overlap) if not (row >= 0.3).any()]
            found = found + self.recognizer.detector.detect_near(frame, missed)
        self._faces = sorted(largest_faces(found, self.recognizer.max_faces), key=lambda f: (f.box[0], f.box[1]))
        self._since_detection = max(1, self.config.detect_every) - 1 if lost else 0
        return self._faces

    def classify(self, frame: np.ndarray) -> list[FaceEmotion]:
        return self.recognizer.classify(frame, self._faces)

    def track(self, raw: list[FaceEmotion], detected: bool, t: float) -> list[FaceEmotion]:
        """The faces of confirmed tracks, with their ids; boxes not (yet) confirmed are left out,
        so nothing downstream draws, smooths or counts them."""
        if detected:
            self._ids = [f.track_id for f in self.tracker.update(raw, t)]
            if self.tracker.pending:  # a new face: look again on the next frame to confirm or drop it
                self._since_detection = max(1, self.config.detect_every)
        # between detections the boxes are the last detection's, and so are the ids
        return [replace(f, track_id=i) for f, i in zip(raw, self._ids) if i is not None]

    def smooth(self, faces: list[FaceEmotion], t: float) -> list[FaceEmotion]:
        return self.smoother.update(faces, t) if self.config.smoothing_on else faces

    def process(self, frame: np.ndarray, t: float) -> FrameResult:
        """One RGB uint8 frame at time `t` seconds."""
        clock = time.perf_counter
        t_cut = clock()
        self.follow_size(frame)
        cut = self.new_shot(frame)
        t0 = clock()
        detected = self.due() or self.recheck(frame)
        t1 = clock()
        if detected:
            self.detect(frame)
        self._since_detection += 1
        t2 = clock()
        raw = self.classify(frame)
        t3 = clock()
        raw = self.track(raw, detected, t)
        faces = self.smooth(raw, t)
        t4 = clock()
        result = FrameResult(self._index, t, faces, detected, cut,
                             StageTimings(1e3 * (t0 - t_cut), 1e3 * (t1 - t0), 1e3 * (t2 - t1), 1e3 * (t3 - t2), 1e3 * (t4 - t3)))
        self._index += 1
        return result
