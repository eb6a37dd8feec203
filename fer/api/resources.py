"""Loaded models, shared by all requests of a process: one classifier per model, one MTCNN.
Loading takes seconds, so it happens once; both are safe to call from several threads (ONNX
Runtime sessions and MTCNN hold no per-call state)."""

from __future__ import annotations

from fer.api.errors import ApiError
from fer.weights import DEFAULT_WEIGHTS, card_of, list_weights


def model_info(name: str) -> dict:
    """What GET /v1/models says about a model: its classes and test accuracy from its card."""
    card = card_of(name)
    accuracy = {key: m.accuracy for key, m in card.metrics.items()}  # keys: fer.weights.metric_key
    return {"name": name, "default": name == DEFAULT_WEIGHTS, "description": card.description,
            "architecture": card.architecture, "classes": list(card.labels),
            "data": card.metrics_data, "test_accuracy": accuracy.get("PrivateTest"), "accuracy": accuracy}


class Models:
    """The API's model names and recognizers, over one `fer.analysis.ModelCache`: each classifier
    loads once and one MTCNN serves every detector setting (`with_config`), however many minimum
    face sizes clients ask for."""

    def __init__(self):
        from fer.analysis import ModelCache

        self.cache = ModelCache()

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
        """A recognizer for one photo request; cheap to build, so each request gets its own settings."""
        from fer.analysis import AnalysisSettings
        from fer.detection import DetectorConfig
        from fer.recognizer import DEFAULT_MAX_FACES

        settings = AnalysisSettings(model=self.check(name), max_faces=max_faces or DEFAULT_MAX_FACES,
                                    detector=DetectorConfig(min_face_size=min_face_size, max_side=detect_max_side))
        return self.cache.recognizer(settings)
