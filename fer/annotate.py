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


FONT = cv2.FONT_HERSHEY_SIMPLEX
TAG_PAD = 2  # pixels of tag around the text on each side


@dataclass(frozen=True)
class TagLayout:
    """Where a label tag goes: corners as cv2.rectangle draws them (both inclusive), the font
    scale that fits the frame, and the text's origin."""

    x1: int
    y1: int
    x2: int
    y2: int
    scale: float
    text_x: int
    text_y: int


def tag_layout(text: str, box: tuple[float, float, float, float], frame_w: int, frame_h: int,
               scale: float, thickness: int = 1) -> TagLayout:
    """The tag for `text` above `box`, or just inside its top when there is no room above, and
    always fully inside the frame: a face at the edge or a small stream must not cut the label
    (issue 23.2: "ppy 42%"). The font shrinks only when the text is wider than the frame."""
    for _ in range(20):  # converges in one or two steps; the bound only guards degenerate sizes
        (tw, th), base = cv2.getTextSize(text, FONT, scale, thickness)
        w, h = tw + 2 * TAG_PAD, th + base + 2 * TAG_PAD
        if w < frame_w and h < frame_h:
            break
        scale *= 0.9 * min(frame_w / (w + 1), frame_h / (h + 1), 1.0)
    w, h = min(w, frame_w - 1), min(h, frame_h - 1)
    x1, y1 = int(round(box[0])), int(round(box[1]))
    top = y1 - h if y1 - h >= 0 else max(y1, 0)
    top = min(max(top, 0), max(frame_h - 1 - h, 0))
    left = min(max(x1, 0), max(frame_w - 1 - w, 0))
    return TagLayout(left, top, left + w, top + h, scale, left + TAG_PAD, top + TAG_PAD + th)


def label_font(shape: tuple[int, ...]) -> tuple[float, int]:
    """(font scale, stroke thickness) of the label tags on a frame of this shape."""
    return max(0.4, max(shape[:2]) / 1200), max(1, round(max(shape[:2]) / 400))


@dataclass
class LabelAnnotator:
    """'#id Label 87%' on a filled tag above the box, inside the frame (`tag_layout`)."""

    uncertain_below: float = 0.0
    show_track_id: bool = True

    def text(self, f: FaceEmotion) -> str:
        if f.shown_label(self.uncertain_below) == "uncertain":
            body = f"{display_name('uncertain')} ({display_name(f.label)} {f.confidence:.0%})"
        else:
            body = f"{display_name(f.label)} {f.confidence:.0%}"
        return f"#{f.track_id} {body}" if self.show_track_id and f.track_id is not None else body

    def annotate(self, scene: np.ndarray, faces: list[FaceEmotion]) -> np.ndarray:
        scale, t = label_font(scene.shape)
        h, w = scene.shape[:2]
        for f in faces:
            colour = color_rgb(f.shown_label(self.uncertain_below))
            text = self.text(f)
            tag = tag_layout(text, f.box, w, h, scale, t)
            cv2.rectangle(scene, (tag.x1, tag.y1), (tag.x2, tag.y2), colour, -1)
            lum = np.dot(colour, (0.299, 0.587, 0.114))
            cv2.putText(scene, text, (tag.text_x, tag.text_y), FONT, tag.scale,
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
    """A one-line notice on a dark tag in the top-left corner (the live view says 'busy' with it;
    its rates are shown below the video, where they cover no label)."""

    def annotate(self, scene: np.ndarray, text: str) -> np.ndarray:
        scale = max(0.5, max(scene.shape[:2]) / 1000)
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        cv2.rectangle(scene, (0, 0), (tw + 10, th + base + 10), (0, 0, 0), -1)
        cv2.putText(scene, text, (5, th + 5), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1,
                    cv2.LINE_AA)
        return scene
