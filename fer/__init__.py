"""Facial emotion recognition: faces in, per-face emotion probabilities out.

    from fer import EmotionRecognizer
    faces = EmotionRecognizer().analyze("photo.jpg")

Imports are lazy so that `import fer` (and `python -m fer --help`) stays fast.
Probabilities describe visible expressions, not feelings; see the model card for limits.
"""

from __future__ import annotations

import logging
import os

__version__ = "0.1.0"

# ONNX Runtime starts its usage telemetry when it is imported (a device id and an event database
# under ~/.cache/Microsoft, events queued for upload) unless this is set first; nothing the
# project runs may send anything. `fer.runtime.onnx_session` also turns events off.
os.environ["ORT_DISABLE_TELEMETRY"] = "1"

# The library reports through logging under "fer.*"; the application (CLI, app, API) decides
# where it goes. Without a handler of its own, Python would print warnings from a library
# that nobody configured, so this one swallows them until someone does.
logging.getLogger(__name__).addHandler(logging.NullHandler())

_EXPORTS = {
    "EmotionRecognizer": "fer.recognizer",
    "EmotionClassifier": "fer.classifier",
    "FaceDetector": "fer.detection",
    "DetectorConfig": "fer.detection",
    "EmotionPipeline": "fer.pipeline",
    "PipelineConfig": "fer.pipeline",
    "FrameResult": "fer.results",
    "Face": "fer.results",
    "FaceEmotion": "fer.results",
    "IoUTracker": "fer.tracking",
    "EmotionSmoother": "fer.smoothing",
    "EmotionAnnotator": "fer.annotate",
    "ImageError": "fer.imageio",
    "load_image": "fer.imageio",
    "FER2013_LABELS": "fer.labels",
    "FERPLUS_LABELS": "fer.labels",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'fer' has no attribute {name!r}")
