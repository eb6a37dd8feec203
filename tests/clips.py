"""Real footage for tests: frames of the clips in ../shared/data/clips (skip where absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from conftest import CLIPS, needs_clips  # noqa: F401 - re-exported for the tests that use clips

from fer.video import iter_frames

ONE_PERSON = CLIPS / "fer_test_clip.mp4"  # one person smiling at a phone, at night
SEVERAL = CLIPS / "short_hamilton_clip.mp4"  # stage and audience, several faces, cuts


def clip_frames(path: Path, every: int = 1, limit: int | None = None) -> list[np.ndarray]:
    """RGB frames of a clip (every `every`-th, at most `limit`), decoded by the library's reader."""
    return [f.rgb for f in iter_frames(path, every=every, max_frames=limit)]


def spread(frames: list[np.ndarray], n: int) -> list[np.ndarray]:
    """`n` of `frames`, evenly spread from the first to the last."""
    picks = np.linspace(0, len(frames) - 1, min(n, len(frames))).round().astype(int)
    return [frames[i] for i in picks]
