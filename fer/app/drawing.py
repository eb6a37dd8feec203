"""The app's names for the library's drawing rules (kept for the photo tab's imports)."""

from __future__ import annotations

import numpy as np

from fer.annotate import LandmarkAnnotator
from fer.results import FaceEmotion


def shown_label(face: FaceEmotion, uncertain_below: float) -> str:
    """The label the drawing shows: the rule itself is `FaceEmotion.shown_label`."""
    return face.shown_label(uncertain_below)


def draw_landmarks(scene: np.ndarray, faces: list[FaceEmotion]) -> np.ndarray:
    return LandmarkAnnotator().annotate(scene, faces)
