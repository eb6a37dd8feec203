"""Hand-made faces and timelines for the insight and timeline tests (no model involved)."""

import numpy as np
import pandas as pd

from fer.labels import FER2013_LABELS
from fer.results import FaceEmotion, FrameResult
from fer.timeline import TimelineBuilder

LABELS = FER2013_LABELS


def face(track_id: int, label: str, p: float = 0.8, x: float = 10.0) -> FaceEmotion:
    """A face whose probability `p` sits on `label`, the rest spread evenly."""
    rest = (1 - p) / (len(LABELS) - 1)
    probs = {k: (p if k == label else rest) for k in LABELS}
    no_landmarks = np.full((5, 2), np.nan, np.float32)
    return FaceEmotion((x, 20.0, x + 50, 80.0), 0.99, no_landmarks, probs, label, track_id)


def timeline(frames: list[list[FaceEmotion]], dt: float = 0.1) -> pd.DataFrame:
    """Raw and smoothed are the same faces here; the smoothed label column follows them."""
    b = TimelineBuilder(LABELS)
    for i, faces in enumerate(frames):
        b.add(FrameResult(i, i * dt, faces, True, dt=dt))
    return b.to_frame()
