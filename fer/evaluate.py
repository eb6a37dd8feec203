"""Evaluate a classifier on any supported data layout and produce a typed report.

Layouts are recognised from what is on disk: the FER-2013 Kaggle folders (split from file
prefixes), the FER+ folders, fer2013.csv, or any folder with one sub-folder per class. Photos
evaluated through the detector count as wrong where no face is found. Real clips have no
labels; for them `uncertain_share` measures how often the live path is unsure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from fer.classifier import EmotionClassifier
from fer.data import FaceArrays, load_class_folders, load_fer2013_csv, load_fer2013_folder, load_ferplus
from fer.labels import UNCERTAIN_BELOW
from fer.metrics import NO_PREDICTION, EvaluationReport, classification_report


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
    return to_model_labels(faces, labels), layout


def agreed_faces(faces: FaceArrays, min_agreement: float) -> FaceArrays:
    """The faces whose top vote share exceeds `min_agreement` (needs FER+ vote distributions)."""
    if min_agreement <= 0:
        return faces
    keep = faces.soft.max(1) > min_agreement
    skipped = {**faces.skipped, f"agreement<={min_agreement:g}": int((~keep).sum())}
    return FaceArrays(faces.images[keep], faces.labels[keep], faces.label_names,
                      [n for n, k in zip(faces.names, keep) if k], faces.soft[keep], skipped)


def to_model_labels(faces: FaceArrays, labels: tuple[str, ...]) -> FaceArrays:
    """Re-index data labels by name into the model's label order; unknown classes are skipped.
    Lets one set of crops (e.g. detected once) serve models with different label sets."""
    if tuple(faces.label_names) == tuple(labels):
        return faces
    names = [faces.label_names[i] for i in faces.labels]
    keep = np.array([n in labels for n in names], bool)
    skipped = dict(faces.skipped)
    missed = [faces.label_names[i] for i in faces.no_face]
    for n in sorted(set(n for n in names + missed if n not in labels)):
        skipped[f"unknown_class:{n}"] = names.count(n) + missed.count(n)
    idx = np.array([labels.index(n) for n, k in zip(names, keep) if k], np.int64)
    kept_names = [nm for nm, k in zip(faces.names, keep) if k]
    no_face = np.array([labels.index(n) for n in missed if n in labels], np.int64)
    no_face_names = [nm for nm, n in zip(faces.no_face_names, missed) if n in labels]
    return FaceArrays(faces.images[keep], idx, labels, kept_names, None, skipped, no_face, no_face_names)


def predictions_report(faces: FaceArrays, labels: tuple[str, ...], pred: np.ndarray,
                       probs: np.ndarray | None = None) -> EvaluationReport:
    """Metrics for predictions on `faces` (in `labels` order) where every photo without a found
    face counts as wrong: the headline figure is what a user of the whole pipeline gets."""
    y_true = np.concatenate([faces.labels, faces.no_face])
    y_pred = np.concatenate([np.asarray(pred, np.int64), np.full(len(faces.no_face), NO_PREDICTION)])
    report = classification_report(y_true, y_pred, labels, probs)
    report.extra["skipped"] = faces.skipped
    if faces.no_face_names:
        report.extra["no_face"] = faces.no_face_names
    return report


def evaluate(classifier: EmotionClassifier, faces: FaceArrays) -> tuple[EvaluationReport, np.ndarray]:
    """Report (with calibration figures) and the probabilities, for reuse by callers."""
    probs = (classifier.predict_proba(faces.images) if len(faces)
             else np.zeros((0, len(classifier.labels)), np.float32))
    return predictions_report(faces, classifier.labels, probs.argmax(1), probs), probs


def detecting_reader(detector, size: int = 48):
    """For uncropped photos: detect, keep the most confident face, align it like training data.
    `detector`: anything with `detect(rgb) -> list[Face]` (FaceDetector, EmotionRecognizer).
    Returns None for a photo without a face, which `load_class_folders` records in `no_face`."""
    from fer.align import align_faces
    from fer.imageio import load_image

    def read(path):
        rgb = load_image(path)
        faces = detector.detect(rgb)
        if not faces:
            return None
        best = max(faces, key=lambda f: (f.score, f.width * f.height))
        return align_faces(rgb, [best], size)[0]

    return read


@dataclass(frozen=True)
class UncertainShare:
    """How often the live path shows a face as 'uncertain' on one clip: a figure to watch on real
    footage (which has no labels), not one to tune the threshold against."""

    clip: str
    frames: int
    face_frames: int  # one per face per frame
    uncertain: int  # face-frames whose top smoothed probability is below the threshold
    threshold: float
    median_confidence: float | None  # of the top smoothed probability over face-frames
    negative: int = 0  # face-frames shown as a negative emotion (angry, disgust, fear, sad, contempt)

    @property
    def share(self) -> float:
        return self.uncertain / self.face_frames if self.face_frames else 0.0

    @property
    def negative_share(self) -> float:
        return self.negative / self.face_frames if self.face_frames else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "share": self.share, "negative_share": self.negative_share}


def uncertain_share(pipeline, frames: Iterable, threshold: float = UNCERTAIN_BELOW,
                    clip: str = "") -> UncertainShare:
    """Run `pipeline` (an EmotionPipeline, as the live view uses it) over every frame (objects
    with `.t` seconds and `.rgb`) and count the face-frames it would show as 'uncertain', and
    those it would show as a negative emotion."""
    from fer.labels import VALENCE

    pipeline.reset()
    n_frames, conf, uncertain, negative = 0, [], 0, 0
    for frame in frames:
        n_frames += 1
        for f in pipeline.process(frame.rgb, frame.t).faces:
            conf.append(f.confidence)
            shown = f.shown_label(threshold)  # the rule the drawing applies
            uncertain += shown == "uncertain"
            negative += VALENCE.get(shown, 0) < 0
    return UncertainShare(clip, n_frames, len(conf), uncertain, threshold,
                          float(np.median(conf)) if conf else None, negative)
