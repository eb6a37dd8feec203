"""Loaded models, shared by all requests of a process: one classifier per model, one detector per
(minimum face size, detector resolution). Loading takes seconds, so it happens once; both are
safe to call from several threads (ONNX Runtime sessions and MTCNN hold no per-call state)."""

from __future__ import annotations

import threading

from fer.api.errors import ApiError
from fer.weights import DEFAULT_WEIGHTS, ModelCard, card_path, list_weights, weights_path

MAX_DETECTORS = 8  # distinct detector settings kept loaded; clients choose min_face_size freely


def model_info(name: str) -> dict:
    """What GET /v1/models says about a model: its classes and test accuracy from its card."""
    card = ModelCard.read(card_path(weights_path(name)))
    metrics = card.raw.get("metrics", {})
    accuracy = {k: v["accuracy"] for k, v in metrics.items() if isinstance(v, dict) and "accuracy" in v}
    return {"name": name, "default": name == DEFAULT_WEIGHTS, "description": card.raw.get("description", ""),
            "architecture": card.architecture, "classes": list(card.labels),
            "data": metrics.get("data"), "test_accuracy": accuracy.get("PrivateTest"), "accuracy": accuracy}


class Models:
    def __init__(self):
        self._lock = threading.Lock()
        self._classifiers: dict = {}
        self._detectors: dict = {}

    @staticmethod
    def names() -> list[str]:
        return list_weights()

    def check(self, name: str | None) -> str:
        name = name or DEFAULT_WEIGHTS
        if name not in self.names():
            raise ApiError(400, f"unknown model {name!r}; GET /v1/models lists them")
        return name

    def recognizer(self, name: str | None, min_face_size: int = 20, detect_max_side: int = 640,
                   max_faces: int | None = None):
        """A recognizer over shared models; cheap to build, so each request gets its own `max_faces`."""
        from fer.classifier import EmotionClassifier
        from fer.detection import DetectorConfig, FaceDetector
        from fer.recognizer import DEFAULT_MAX_FACES, EmotionRecognizer

        name = self.check(name)
        with self._lock:  # two first requests must not load the same model twice
            clf = self._classifiers.get(name)
            if clf is None:
                clf = self._classifiers[name] = EmotionClassifier(weights_path(name))
            key = (min_face_size, detect_max_side)
            det = self._detectors.pop(key, None)
            if det is None:
                det = FaceDetector(DetectorConfig(min_face_size=min_face_size, max_side=detect_max_side))
            self._detectors[key] = det  # most recently used last
            while len(self._detectors) > MAX_DETECTORS:
                self._detectors.pop(next(iter(self._detectors)))
        return EmotionRecognizer(classifier=clf, detector=det, max_faces=max_faces or DEFAULT_MAX_FACES)
