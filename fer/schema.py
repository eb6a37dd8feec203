"""The one faces-JSON format: what `fer analyze --json` writes and what `POST /v1/analyze` returns.

Versioned (`schema_version`) so a client can tell when the shape changes: add a field without
bumping; rename, remove or change the meaning of one and bump `SCHEMA_VERSION`. Both producers
build the document from these dataclasses, and both go through `analyze_image`, so the same
photo and options give the same faces whichever way it is sent.

    {"schema_version": 1, "model": "joint_resnet_m", "labels": [...], "tta": "flip_zoom",
     "images": [{"file": "a.jpg", "size": [w, h], "faces": [FaceEmotion.to_dict(), ...],
                 "error": null, "annotated": null}]}
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fer.results import FaceEmotion

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class ImageResult:
    """One input image: its faces (left to right), or the reason it could not be analysed."""

    file: str
    faces: tuple[FaceEmotion, ...] = ()
    size: tuple[int, int] | None = None  # width, height of the decoded image
    error: str | None = None
    annotated: str | None = None  # path of an annotated copy, where one was written

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict:
        return {"file": self.file, "size": list(self.size) if self.size else None,
                "faces": [f.to_dict() for f in self.faces], "error": self.error, "annotated": self.annotated}


@dataclass(frozen=True)
class FacesReport:
    """A whole run: which model and test-time augmentation produced the faces of every image."""

    model: str  # weights name (file stem), never a server path
    labels: tuple[str, ...]
    tta: str
    images: tuple[ImageResult, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        return {"schema_version": SCHEMA_VERSION, "model": self.model, "labels": list(self.labels),
                "tta": self.tta, "images": [r.to_dict() for r in self.images]}


def analyze_image(recognizer, rgb: np.ndarray, name: str, tta: str | None) -> ImageResult:
    """Detect (at most the recognizer's `max_faces`, the largest) and classify the faces of one
    decoded RGB image: the step the CLI and the API share."""
    faces = recognizer.classify(rgb, recognizer.detect(rgb), tta)
    return ImageResult(name, tuple(faces), (int(rgb.shape[1]), int(rgb.shape[0])))


def failed_image(name: str, error: str) -> ImageResult:
    return ImageResult(name, error=error)


def model_name(recognizer) -> str:
    """The weights' name as clients see it: the file stem, so no server path leaks."""
    path = recognizer.classifier.weights_path
    return path.name.removesuffix(".safetensors")
