"""Draw faces and their emotions on a frame. Each annotator has one signature:
`annotate(scene, faces) -> scene`, drawing in place on an RGB uint8 array and returning it."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from fer.labels import UNCERTAIN_BELOW, color_rgb, display_name
from fer.results import FaceEmotion


def _thickness(scene: np.ndarray) -> int:
    return max(1, round(max(scene.shape[:2]) / 400))


@dataclass
class BoxAnnotator:
    """A box in the colour of the face's label (or grey while the classifier is unsure)."""

    uncertain_below: float = 0.0

    def annotate(self, scene: np.ndarray, faces: list[FaceEmotion]) -> np.ndarray:
        t = _thickness(scene)
        for f in faces:
            label = f.shown_label(self.uncertain_below)
            x1, y1, x2, y2 = (int(round(v)) for v in f.box)
            cv2.rectangle(scene, (x1, y1), (x2, y2), color_rgb(label), t, cv2.LINE_AA)
        return scene


@dataclass
class LabelAnnotator:
    """'#id Label 87%' on a filled tag above the box (inside the frame when the box touches the top)."""

    uncertain_below: float = 0.0
    show_track_id: bool = True

    def text(self, f: FaceEmotion) -> str:
        if f.shown_label(self.uncertain_below) == "uncertain":
            body = f"{display_name('uncertain')} ({display_name(f.label)} {f.confidence:.0%})"
        else:
            body = f"{display_name(f.label)} {f.confidence:.0%}"
        return f"#{f.track_id} {body}" if self.show_track_id and f.track_id is not None else body

    def annotate(self, scene: np.ndarray, faces: list[FaceEmotion]) -> np.ndarray:
        scale = max(0.4, max(scene.shape[:2]) / 1200)
        t = _thickness(scene)
        for f in faces:
            label = f.shown_label(self.uncertain_below)
            text = self.text(f)
            (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, t)
            x1, y1 = int(round(f.box[0])), int(round(f.box[1]))
            top = y1 - th - base - 4 if y1 - th - base - 4 >= 0 else y1
            x1 = min(max(0, x1), max(0, scene.shape[1] - tw - 4))
            cv2.rectangle(scene, (x1, top), (x1 + tw + 4, top + th + base + 4), color_rgb(label), -1)
            lum = np.dot(color_rgb(label), (0.299, 0.587, 0.114))
            cv2.putText(scene, text, (x1 + 2, top + th + 2), cv2.FONT_HERSHEY_SIMPLEX, scale,
                        (0, 0, 0) if lum > 140 else (255, 255, 255), t, cv2.LINE_AA)
        return scene


LANDMARK_RGB = (0, 255, 255)


@dataclass
class LandmarkAnnotator:
    """Five dots per face (eyes, nose, mouth corners); faces without landmarks are skipped."""

    def annotate(self, scene: np.ndarray, faces: list[FaceEmotion]) -> np.ndarray:
        r = max(2, round(max(scene.shape[:2]) / 300))
        for f in faces:
            if not np.isfinite(f.landmarks).all():
                continue
            for x, y in np.asarray(f.landmarks, np.float32):
                cv2.circle(scene, (round(x), round(y)), r, LANDMARK_RGB, -1, cv2.LINE_AA)
        return scene


@dataclass
class EmotionAnnotator:
    """Box plus label (plus landmarks if asked): what the app and the video writer draw.

    `opacity` below 1 blends the drawing into the scene: the live view fades an overlay that is
    getting old instead of letting it vanish at once."""

    uncertain_below: float = UNCERTAIN_BELOW
    show_track_id: bool = True
    show_landmarks: bool = False

    def annotate(self, scene: np.ndarray, faces: list[FaceEmotion], opacity: float = 1.0) -> np.ndarray:
        if not faces or opacity <= 0:
            return scene
        target = scene if opacity >= 1 else scene.copy()
        BoxAnnotator(self.uncertain_below).annotate(target, faces)
        LabelAnnotator(self.uncertain_below, self.show_track_id).annotate(target, faces)
        if self.show_landmarks:
            LandmarkAnnotator().annotate(target, faces)
        if target is not scene:
            cv2.addWeighted(target, opacity, scene, 1 - opacity, 0, dst=scene)
        return scene


@dataclass
class StatusAnnotator:
    """A one-line read-out on a dark tag in the top-left corner (the live view's rates)."""

    def annotate(self, scene: np.ndarray, text: str) -> np.ndarray:
        scale = max(0.5, max(scene.shape[:2]) / 1000)
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        cv2.rectangle(scene, (0, 0), (tw + 10, th + base + 10), (0, 0, 0), -1)
        cv2.putText(scene, text, (5, th + 5), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1,
                    cv2.LINE_AA)
        return scene
