"""The classical baseline: HOG descriptors + a linear SVM, the yardstick the networks must beat.

Stored as plain arrays (.npz: scaler and hyperplanes), never as a pickle, so loading it runs
no code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer.data import FaceArrays


def hog_features(images: np.ndarray) -> np.ndarray:
    """9 orientations, 8x8-pixel cells, 2x2-cell blocks: 900 numbers per 48x48 face.

    Uses scikit-image (a development dependency: the baseline is a research tool, not part of
    the app)."""
    from skimage.feature import hog

    return np.stack([hog(im, orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2),
                         block_norm="L2-Hys", feature_vector=True) for im in images]).astype(np.float32)


@dataclass
class HogSvm:
    labels: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # (C, D)
    intercept: np.ndarray  # (C,)

    def decision(self, images: np.ndarray) -> np.ndarray:
        x = (hog_features(images) - self.mean) / self.scale
        return x @ self.coef.T + self.intercept

    def predict(self, images: np.ndarray) -> np.ndarray:
        return self.decision(images).argmax(1)

    def save(self, path: str | Path) -> None:
        np.savez(path, labels=np.array(self.labels), mean=self.mean, scale=self.scale, coef=self.coef,
                 intercept=self.intercept)

    @classmethod
    def load(cls, path: str | Path) -> HogSvm:
        z = np.load(path, allow_pickle=False)
        return cls(tuple(z["labels"].tolist()), z["mean"], z["scale"], z["coef"], z["intercept"])


def train_hog_svm(train: FaceArrays, c: float = 0.05, flip: bool = True, seed: int = 0) -> HogSvm:
    """One-vs-rest linear SVM on standardised HOG; mirrored faces double the training set."""
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    images, labels = train.images, train.labels
    if flip:
        images = np.concatenate([images, images[:, :, ::-1]])
        labels = np.concatenate([labels, labels])
    x = hog_features(images)
    scaler = StandardScaler().fit(x)
    svm = LinearSVC(C=c, dual=False, random_state=seed, max_iter=2000).fit(scaler.transform(x), labels)
    return HogSvm(train.label_names, scaler.mean_.astype(np.float32), scaler.scale_.astype(np.float32),
                  svm.coef_.astype(np.float32), svm.intercept_.astype(np.float32))
