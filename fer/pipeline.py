"""Frames over time: detect -> track -> classify -> smooth, with detection every k-th frame.

MTCNN is the expensive step; between detections the last boxes are reused (faces move little
in 1/10 s) and only the classifier runs, which keeps a 2-core CPU at camera rate. A reused box
that no longer holds a face (MTCNN's last stage says so) brings the next detection forward. Used by the
webcam processor and the video analyser alike, so both behave the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from fer.recognizer import EmotionRecognizer
from fer.results import Face, FaceEmotion
from fer.smoothing import EmotionSmoother
from fer.tracking import IoUTracker


@dataclass
class PipelineConfig:
    detect_every: int = 3  # run MTCNN on every k-th frame; 1 = every frame
    half_life_s: float = 0.5
    switch_margin: float = 0.1
    smoothing: bool = True
    max_missed: int = 10  # detections a track may miss before its id is dropped
    # Between detections, MTCNN's last stage re-scores each reused box (~1 ms); below this face
    # probability the face has left its box and the frame is detected again at once. 0 = off.
    recheck_score: float = 0.5


@dataclass
class FrameResult:
    index: int
    t: float  # seconds
    faces: list[FaceEmotion]  # smoothed, with track ids
    raw: list[FaceEmotion]  # per-frame classifier output, with track ids
    detected: bool  # whether MTCNN ran on this frame


def needs_detection(config: PipelineConfig, detector, frame: np.ndarray, faces: list[Face],
                    frames_since: int) -> bool:
    """Whether to run MTCNN on this frame: on schedule, or at once when a reused box lost its face."""
    if frames_since >= max(1, config.detect_every):
        return True
    if config.recheck_score <= 0 or not faces:
        return False
    return bool((detector.still_faces(frame, faces) < config.recheck_score).any())


@dataclass
class EmotionPipeline:
    recognizer: EmotionRecognizer
    config: PipelineConfig = field(default_factory=PipelineConfig)

    def __post_init__(self):
        self.tracker = IoUTracker(max_missed=self.config.max_missed)
        self.smoother = EmotionSmoother(self.config.half_life_s, self.config.switch_margin)
        self._index = 0
        self._since_detection = max(1, self.config.detect_every)  # the first frame is due for detection
        self._faces: list[Face] = []
        self._ids: list[int | None] = []

    def reset(self) -> None:
        self.tracker.reset()
        self.smoother.reset()
        self._index = 0
        self._since_detection = max(1, self.config.detect_every)  # the first frame is due for detection
        self._faces = []
        self._ids = []

    def process(self, frame: np.ndarray, t: float) -> FrameResult:
        """One RGB uint8 frame at time `t` seconds."""
        detected = needs_detection(self.config, self.recognizer.detector, frame, self._faces,
                                   self._since_detection)
        if detected:
            self._faces = self.recognizer.detect(frame)
            self._since_detection = 0
        self._since_detection += 1
        raw = self.recognizer.classify(frame, self._faces)
        if detected:
            raw = self.tracker.update(raw)
            self._ids = [f.track_id for f in raw]
        else:  # between detections the boxes are the last detection's, and so are the ids
            raw = [replace(f, track_id=i) for f, i in zip(raw, self._ids)]
        faces = self.smoother.update(raw, t) if self.config.smoothing else raw
        result = FrameResult(self._index, t, faces, raw, detected)
        self._index += 1
        return result
