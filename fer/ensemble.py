"""Several shipped classifiers read as one: the mean of their log-probabilities over the seven
FER-2013 classes (a logit ensemble: the mean of logits up to each model's constant, which the
softmax removes), so a 7-class and an 8-class model can be combined.

It offers what the pipeline asks of a classifier (`labels`, `input_size`, `predict_proba`), so
`fer compare --ensembles` measures an ensemble through the same live pipeline as one model. It
costs the sum of its members' time per face.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fer.classifier import EmotionClassifier, softmax
from fer.labels import FER2013_LABELS

EPS = 1e-7


def seven_class_view(probs: np.ndarray, labels: tuple[str, ...]) -> np.ndarray:
    """Probabilities over the seven FER-2013 classes (an 8-class model's contempt left out, the rest
    renormalised), for data labelled in those seven."""
    idx = [labels.index(k) for k in FER2013_LABELS]
    p = np.asarray(probs)[:, idx]
    return p / np.maximum(p.sum(1, keepdims=True), 1e-12)


def mean_log_probs(members_probs: Sequence[np.ndarray]) -> np.ndarray:
    """The ensemble's probabilities from its members' 7-class probabilities (N, 7) each."""
    logs = np.mean([np.log(np.clip(p, EPS, 1.0)) for p in members_probs], axis=0)
    return softmax(logs)


def ensemble_name(names: Sequence[str]) -> str:
    return " + ".join(names)


class EnsembleClassifier:
    """Shipped classifiers with one input contract, read as one 7-class classifier."""

    def __init__(self, members: Sequence[EmotionClassifier]):
        if len(members) < 2:
            raise ValueError("an ensemble needs at least two models")
        sizes = {m.input_size for m in members}
        if len(sizes) != 1:
            raise ValueError(f"ensemble members read different input sizes: {sorted(sizes)}")
        self.members = tuple(members)
        self.labels: tuple[str, ...] = FER2013_LABELS
        self.input_size = members[0].input_size
        self.name = ensemble_name([m.weights_path.stem for m in members])
        self.weights_path = Path(self.name)  # what reports name the model by
        self.precision = "+".join(m.precision for m in members)

    @classmethod
    def of(cls, names: Sequence[str], precision: str = "auto") -> EnsembleClassifier:
        return cls([EmotionClassifier(n, precision=precision) for n in names])

    def predict_proba(self, crops: np.ndarray, tta: str | None = None) -> np.ndarray:
        return mean_log_probs([seven_class_view(m.predict_proba(crops, tta), m.labels) for m in self.members])
