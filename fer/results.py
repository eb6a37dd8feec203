"""Typed results that flow through the pipeline: frame -> Face -> FaceEmotion -> FrameResult."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels of the analysed image


@dataclass(frozen=True)
class Face:
    """One detected face. Landmarks are (5, 2): eye, eye, nose, mouth corner, mouth corner
    (image-left first), in the same pixel coordinates as the box."""

    box: Box
    score: float
    landmarks: np.ndarray = field(default_factory=lambda: np.full((5, 2), np.nan, np.float32))

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def center(self) -> tuple[float, float]:
        return ((self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2)

    @property
    def has_landmarks(self) -> bool:
        return bool(np.isfinite(self.landmarks).all())


@dataclass(frozen=True)
class UncertainHold:
    """A smoother's decision, with hysteresis, whether a tracked face reads as 'uncertain' at
    `threshold`: a confidence hovering at the threshold would otherwise flip the shown label
    between an emotion and 'uncertain' every few frames."""

    threshold: float
    uncertain: bool


@dataclass(frozen=True)
class FaceEmotion:
    """A face plus its emotion probabilities (label -> probability, summing to 1).

    `label` is the arg-max (or, after smoothing, the label with hysteresis). `probs` are what
    the face is shown with; `raw_probs` keeps this frame's own classifier output once a smoother
    has replaced `probs`, so one object carries both from frame to page. The 'uncertain' state is
    the caller's threshold, applied by `shown_label`, the one place that rule lives.
    """

    box: Box
    score: float
    landmarks: np.ndarray
    probs: dict[str, float]
    label: str
    track_id: int | None = None
    raw_probs: dict[str, float] | None = None  # None: `probs` are this frame's own (not smoothed)
    hold: UncertainHold | None = None  # set by a smoother that knows the threshold

    @classmethod
    def from_face(cls, face: Face, labels: tuple[str, ...], probs: np.ndarray,
                  track_id: int | None = None) -> FaceEmotion:
        p = {lab: float(v) for lab, v in zip(labels, probs)}
        return cls(face.box, face.score, face.landmarks, p, max(p, key=p.get), track_id)

    @property
    def face(self) -> Face:
        return Face(self.box, self.score, self.landmarks)

    @property
    def confidence(self) -> float:
        return self.probs[self.label]

    @property
    def frame_probs(self) -> dict[str, float]:
        """This frame's own classifier output, whether or not `probs` were smoothed."""
        return self.raw_probs if self.raw_probs is not None else self.probs

    def shown_label(self, uncertain_below: float) -> str:
        """The label to show: 'uncertain' when the top probability is below the threshold, or,
        where a smoother held the decision at this same threshold, the smoother's decision."""
        if self.hold is not None and self.hold.threshold == uncertain_below:
            uncertain = self.hold.uncertain
        else:
            uncertain = self.confidence < uncertain_below
        return "uncertain" if uncertain else self.label

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        return sorted(self.probs.items(), key=lambda kv: -kv[1])[:k]

    def with_probs(self, probs: dict[str, float], track_id: int | None = None) -> FaceEmotion:
        """A copy with new (e.g. smoothed) probabilities; the label follows them and the frame's
        own probabilities are kept in `raw_probs`."""
        return replace(self, probs=dict(probs), label=max(probs, key=probs.get),
                       track_id=self.track_id if track_id is None else track_id,
                       raw_probs=self.frame_probs)

    def to_dict(self) -> dict:
        """JSON-ready: plain floats, rounded for readable exports."""
        return {
            "box": [round(float(v), 1) for v in self.box],
            "score": round(float(self.score), 4),
            "landmarks": [[round(float(x), 1), round(float(y), 1)] for x, y in self.landmarks]
            if np.isfinite(self.landmarks).all() else None,
            "label": self.label,
            "confidence": round(self.confidence, 4),
            "probs": {k: round(v, 4) for k, v in self.probs.items()},
            "track_id": self.track_id,
        }


@dataclass(frozen=True)
class StageTimings:
    """Milliseconds spent in each stage for one frame (0 for a stage that did not run)."""

    cut_ms: float = 0.0
    recheck_ms: float = 0.0
    detect_ms: float = 0.0
    classify_ms: float = 0.0
    track_ms: float = 0.0

    @property
    def total_ms(self) -> float:
        return self.cut_ms + self.recheck_ms + self.detect_ms + self.classify_ms + self.track_ms


@dataclass(frozen=True)
class FrameResult:
    """One analysed frame, from the pipeline (live and video) to the timeline table."""

    index: int  # the pipeline's frame count; in video analysis, the source frame's index
    t: float  # seconds
    faces: list[FaceEmotion]  # tracked; `probs` smoothed, `frame_probs` the frame's own
    detected: bool  # whether MTCNN ran on this frame
    cut: bool = False  # the frame starts a new shot (`fer.scenecut`)
    timings: StageTimings = field(default_factory=StageTimings)
    dt: float = 0.0  # seconds of video this frame stands for (video analysis; 0 live)
