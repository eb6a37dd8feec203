"""Overlays the app adds to the library's annotations (landmarks, a frame-rate read-out), and the
label those annotations show."""

from __future__ import annotations

import cv2
import numpy as np

from fer.results import FaceEmotion

LANDMARK_RGB = (0, 255, 255)


def shown_label(face: FaceEmotion, uncertain_below: float) -> str:
    """The label the drawing shows (and colours the box by): 'uncertain' below the threshold."""
    return face.label if face.confidence >= uncertain_below else "uncertain"


def draw_landmarks(scene: np.ndarray, faces: list[FaceEmotion]) -> np.ndarray:
    """Five dots per face (eyes, nose, mouth corners), in place; faces without landmarks are skipped."""
    r = max(2, round(max(scene.shape[:2]) / 300))
    for f in faces:
        if not np.isfinite(f.landmarks).all():
            continue
        for x, y in np.asarray(f.landmarks, np.float32):
            cv2.circle(scene, (round(x), round(y)), r, LANDMARK_RGB, -1, cv2.LINE_AA)
    return scene


def draw_fps(scene: np.ndarray, analysis_fps: float, video_fps: float | None = None) -> np.ndarray:
    """'model 8.1 fps | video 30 fps' on a dark tag in the top-left corner, in place."""
    text = f"model {analysis_fps:.1f} fps"
    if video_fps is not None:
        text += f" | video {video_fps:.0f} fps"
    scale = max(0.5, max(scene.shape[:2]) / 1000)
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    cv2.rectangle(scene, (0, 0), (tw + 10, th + base + 10), (0, 0, 0), -1)
    cv2.putText(scene, text, (5, th + 5), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return scene
