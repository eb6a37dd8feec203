"""Real footage for tests: frames of the clips in ../shared/data/clips (skip where absent)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from conftest import CLIPS, needs_clips  # noqa: F401 - re-exported for the tests that use clips

ONE_PERSON = CLIPS / "fer_test_clip.mp4"  # one person smiling at a phone, at night
SEVERAL = CLIPS / "short_hamilton_clip.mp4"  # stage and audience, several faces, cuts


def clip_frames(path: Path, every: int = 1, limit: int | None = None) -> list[np.ndarray]:
    """RGB frames of a clip (every `every`-th, at most `limit`)."""
    cap = cv2.VideoCapture(str(path))
    frames, i = [], 0
    try:
        while limit is None or len(frames) < limit:
            ok, bgr = cap.read()
            if not ok:
                break
            if i % every == 0:
                frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            i += 1
    finally:
        cap.release()
    return frames


def spread(frames: list[np.ndarray], n: int) -> list[np.ndarray]:
    """`n` of `frames`, evenly spread from the first to the last."""
    picks = np.linspace(0, len(frames) - 1, min(n, len(frames))).round().astype(int)
    return [frames[i] for i in picks]


def clip_fps(path: Path) -> float:
    cap = cv2.VideoCapture(str(path))
    try:
        return float(cap.get(cv2.CAP_PROP_FPS)) or 30.0
    finally:
        cap.release()
