"""The public entry point: image in, one `FaceEmotion` per face out.

frame -> detect (MTCNN) -> align (eyes level, FER-2013 geometry) -> classify -> FaceEmotion.
Tracking and smoothing over time live in `fer.tracking` and `fer.smoothing`, because a photo
has no time axis.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fer import runtime
from fer.align import align_faces
from fer.classifier import EmotionClassifier
from fer.detection import DetectorConfig, FaceDetector
from fer.imageio import ImageInput, load_image
from fer.results import Face, FaceEmotion

# Faces analysed per image or frame, largest first. A crowd photo with 300 faces would cost
# 300 x 4 classifier passes and 300 result panels; the largest faces are the readable ones.
DEFAULT_MAX_FACES = 20
MTCNN_MIN_SIDE = 12  # MTCNN's smallest window: below this no face can be found


def largest_faces(faces: list[Face], max_faces: int | None) -> list[Face]:
    """At most `max_faces` faces, the largest by box area, kept in their original order."""
    if max_faces is None or len(faces) <= max_faces:
        return faces
    area = [(f.box[2] - f.box[0]) * (f.box[3] - f.box[1]) for f in faces]
    keep = sorted(sorted(range(len(faces)), key=lambda i: -area[i])[:max_faces])
    return [faces[i] for i in keep]


class EmotionRecognizer:
    """Detects every face in an image and returns its emotion probabilities.

    Probabilities describe the visible expression in one frame; they are not a reading of
    what a person feels, and must not be used on their own to judge people.
    """

    def __init__(self, weights: str | Path | None = None, device: str = "cpu", backend: str = "auto",
                 min_score: float = 0.9, min_face_size: int = 20, detect_max_side: int = 640,
                 tta: str = "none", detector: FaceDetector | None = None,
                 classifier: EmotionClassifier | None = None, max_faces: int | None = DEFAULT_MAX_FACES):
        if max_faces is not None and max_faces < 1:
            raise ValueError(f"max_faces must be at least 1, got {max_faces}")
        self.max_faces = max_faces
        runtime.apply_threads()  # OpenCV's pool (resize, warp) to the library's one thread setting
        self.classifier = classifier or EmotionClassifier(weights, backend=backend, device=device,
                                                          tta=tta)
        self.detector = detector or FaceDetector(
            DetectorConfig(min_score=min_score, min_face_size=min_face_size, max_side=detect_max_side),
            device=device)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.classifier.labels

    def detect(self, image: np.ndarray, max_side: int | None = None, still: bool = True) -> list[Face]:
        """Faces left to right, at most `max_faces` (the largest); `max_side` overrides the
        detector's working side for this call (the live loop lowers it when the CPU is short);
        `still=False` for stream and video frames (`FaceDetector.detect`)."""
        return largest_faces(self.detector.detect(image, max_side=max_side, still=still), self.max_faces)

    def too_small(self, image: np.ndarray) -> bool:
        """Whether the image is too small for the detector to find any face in it (then "no face"
        says nothing about the photo)."""
        h, w = image.shape[:2]
        side = self.detector.config.max_side
        scale = min(1.0, side / max(h, w)) if side else 1.0
        return min(h, w) * scale < max(MTCNN_MIN_SIDE, self.detector.config.min_face_size)

    def classify(self, image: np.ndarray, faces: list[Face], tta: str | None = None) -> list[FaceEmotion]:
        """Emotions for faces already found (e.g. by a tracker that skips detection on some frames).
        `tta` (a fer.tta policy) overrides the classifier's test-time augmentation."""
        if not faces:
            return []
        crops = align_faces(image, faces, self.classifier.input_size)
        probs = self.classifier.predict_proba(crops, tta)
        return [FaceEmotion.from_face(f, self.labels, p) for f, p in zip(faces, probs)]

    def analyze(self, image: ImageInput, tta: str | None = None) -> list[FaceEmotion]:
        """All faces, left to right; [] when there is none. Raises `ImageError` on unusable input.
        For single photos `tta="flip_zoom"` is worth its ~5 ms per face (70.7% vs 68.9% on
        FER-2013 PrivateTest)."""
        rgb = load_image(image)
        return self.classify(rgb, self.detect(rgb), tta)
