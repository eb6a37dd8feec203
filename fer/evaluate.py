"""Evaluate a classifier on any supported data layout and produce a typed report.

Layouts are recognised from what is on disk: the FER-2013 Kaggle folders (split from file
prefixes), the FER+ folders, fer2013.csv, or any folder with one sub-folder per class.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fer.classifier import EmotionClassifier
from fer.data import FaceArrays, load_class_folders, load_fer2013_csv, load_fer2013_folder, load_ferplus
from fer.metrics import EvaluationReport, classification_report


def detect_layout(data: Path) -> str:
    if data.is_file() and data.suffix.lower() == ".csv":
        return "fer2013_csv"
    if not data.is_dir():
        raise FileNotFoundError(f"no data at {data}")
    if (data / "FER2013Test").is_dir() or (data / "label.csv").is_file():
        return "ferplus"
    for sub in ("train", "test"):
        d = data / sub
        if d.is_dir() and any(f.name.startswith(("Training_", "PublicTest_", "PrivateTest_"))
                              for c in d.iterdir() if c.is_dir() for f in c.iterdir()):
            return "fer2013"
    return "class_folders"


def load_eval_data(data: str | Path, split: str, labels: tuple[str, ...], reader=None,
                   min_agreement: float = 0.0) -> tuple[FaceArrays, str]:
    """Faces and integer labels in the order of `labels` (the model's), plus the layout name.

    `min_agreement` (FER+ only) keeps the faces whose top emotion has more than that share of
    the emotion votes: 0.5 is a strict majority, close to the rule of the FERPlus reference code
    that many papers report; 0 keeps every face whose top vote is an emotion (our protocol)."""
    data = Path(data)
    layout = detect_layout(data)
    if min_agreement > 0 and layout != "ferplus":
        raise ValueError(f"a minimum agreement needs FER+ votes; {data} is {layout}")
    if layout == "fer2013_csv":
        faces = load_fer2013_csv(data, split)
    elif layout == "ferplus":
        one_split = (data / "label.csv").is_file()  # a single split folder such as FER2013Test
        faces = load_ferplus(data.parent, data.name) if one_split else load_ferplus(data, split)
        faces = agreed_faces(faces, min_agreement)
    elif layout == "fer2013":
        faces = load_fer2013_folder(data, split)
    else:
        return load_class_folders(data, labels, reader=reader), layout
    return _to_model_labels(faces, labels), layout


def agreed_faces(faces: FaceArrays, min_agreement: float) -> FaceArrays:
    """The faces whose top vote share exceeds `min_agreement` (needs FER+ vote distributions)."""
    if min_agreement <= 0:
        return faces
    keep = faces.soft.max(1) > min_agreement
    skipped = {**faces.skipped, f"agreement<={min_agreement:g}": int((~keep).sum())}
    return FaceArrays(faces.images[keep], faces.labels[keep], faces.label_names,
                      [n for n, k in zip(faces.names, keep) if k], faces.soft[keep], skipped)


def _to_model_labels(faces: FaceArrays, labels: tuple[str, ...]) -> FaceArrays:
    """Re-index data labels by name into the model's label order; unknown classes are skipped."""
    names = [faces.label_names[i] for i in faces.labels]
    keep = np.array([n in labels for n in names])
    skipped = dict(faces.skipped)
    for n in sorted(set(n for n in names if n not in labels)):
        skipped[f"unknown_class:{n}"] = names.count(n)
    idx = np.array([labels.index(n) for n, k in zip(names, keep) if k], np.int64)
    return FaceArrays(faces.images[keep], idx, labels, [nm for nm, k in zip(faces.names, keep) if k] if faces.names else [],
                      None, skipped)


def evaluate(classifier: EmotionClassifier, faces: FaceArrays) -> tuple[EvaluationReport, np.ndarray]:
    """Report (with calibration figures) and the probabilities, for reuse by callers."""
    probs = classifier.predict_proba(faces.images)
    report = classification_report(faces.labels, probs.argmax(1), classifier.labels, probs)
    report.extra["skipped"] = faces.skipped
    return report, probs


def detecting_reader(recognizer, size: int = 48):
    """For uncropped photos: detect, keep the most confident face, align it like training data."""
    from fer.align import align_faces
    from fer.imageio import load_image

    def read(path):
        rgb = load_image(path)
        faces = recognizer.detect(rgb)
        if not faces:
            return None
        best = max(faces, key=lambda f: (f.score, f.width * f.height))
        return align_faces(rgb, [best], size)[0]

    return read
