"""Read face data sets in place into typed in-memory arrays.

Everything returns a `FaceArrays`: 48x48 grey uint8 images plus integer labels (and soft
targets for FER+), so training and evaluation never care which layout the data came in.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from fer.labels import FER2013_LABELS, FERPLUS_LABELS, canonical_label

SPLITS = ("Training", "PublicTest", "PrivateTest")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".pgm"}

# FER+ label.csv vote columns, in file order.
FERPLUS_VOTE_COLUMNS = ("neutral", "happy", "surprise", "sad", "angry", "disgust", "fear", "contempt",
                        "unknown", "not_a_face")
FERPLUS_SPLIT_FOLDERS = {"Training": "FER2013Train", "PublicTest": "FER2013Valid",
                         "PrivateTest": "FER2013Test"}


@dataclass
class FaceArrays:
    """Images (N, H, W) uint8 grey, labels (N,) int64 indices into `labels_names`."""

    images: np.ndarray
    labels: np.ndarray
    label_names: tuple[str, ...]
    names: list[str] = field(default_factory=list)
    soft: np.ndarray | None = None  # (N, C) float32 target distributions, FER+ only
    skipped: dict[str, int] = field(default_factory=dict)  # why images were left out, and how many
    # Photos where the reader (face detection) found no face: their labels and names. They are
    # not left out: an evaluation counts them as wrong, as a user would experience them.
    no_face: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    no_face_names: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=len(self.label_names))
        return dict(zip(self.label_names, counts.tolist()))


def _read_grey(path_or_bytes, size: int = 48) -> np.ndarray:
    src = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, (bytes, bytearray)) else path_or_bytes
    with Image.open(src) as im:
        im = im.convert("L")
        if im.size != (size, size):
            im = im.resize((size, size), Image.BILINEAR)
        return np.asarray(im, dtype=np.uint8)


def _split_of(filename: str) -> str | None:
    for split in SPLITS:
        if filename.startswith(split + "_"):
            return split
    return None


def _check_dir(root: Path, what: str) -> None:
    if not root.is_dir():
        raise FileNotFoundError(f"{what} not found at {root}")


def load_fer2013_folder(root: str | Path, split: str = "Training") -> FaceArrays:
    """FER-2013 in the Kaggle layout (train/<class>/*.jpg, test/<class>/*.jpg).

    The split comes from the file-name prefix (Training_, PublicTest_, PrivateTest_), since the
    Kaggle copy merges PublicTest and PrivateTest into one test folder.
    """
    root = Path(root)
    _check_dir(root, "FER-2013 folder")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    images, labels, names = [], [], []
    for sub in ("train", "test"):
        if not (root / sub).is_dir():
            continue
        for class_dir in sorted(p for p in (root / sub).iterdir() if p.is_dir()):
            label = canonical_label(class_dir.name)
            if label not in FER2013_LABELS:
                continue
            for f in sorted(class_dir.iterdir()):
                if _split_of(f.name) == split and f.suffix.lower() in IMAGE_SUFFIXES:
                    images.append(_read_grey(f))
                    labels.append(FER2013_LABELS.index(label))
                    names.append(f"{sub}/{class_dir.name}/{f.name}")
    if not images:
        raise FileNotFoundError(f"no {split} images under {root} (expected train/<class>/{split}_*.jpg)")
    return FaceArrays(np.stack(images), np.asarray(labels, np.int64), FER2013_LABELS, names)


def load_fer2013_csv(path: str | Path, split: str = "Training") -> FaceArrays:
    """The original fer2013.csv: columns emotion, pixels (2304 space-separated values), Usage."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"FER-2013 CSV not found at {path}")
    images, labels, names = [], [], []
    with path.open(newline="") as fh:
        for i, row in enumerate(csv.DictReader(fh)):
            if row.get("Usage", "").strip() != split:
                continue
            pixels = np.array(row["pixels"].split(), dtype=np.uint8)
            if pixels.size != 48 * 48:
                raise ValueError(f"{path}: row {i} has {pixels.size} pixels, expected 2304")
            images.append(pixels.reshape(48, 48))
            labels.append(int(row["emotion"]))
            names.append(f"row{i}")
    if not images:
        raise ValueError(f"{path}: no rows with Usage == {split!r}")
    return FaceArrays(np.stack(images), np.asarray(labels, np.int64), FER2013_LABELS, names)


def ferplus_targets(votes: np.ndarray, drop_single_votes: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Turn (N, 10) FER+ votes into a keep-mask and (N, 8) target distributions in FERPLUS_LABELS order.

    Follows the FER+ protocol: drop images whose top vote is unknown or not-a-face; a single
    vote for an emotion is treated as annotator noise (Barsoum et al. 2016).
    """
    votes = np.asarray(votes, dtype=np.float32)
    order = [FERPLUS_VOTE_COLUMNS.index(lab) for lab in FERPLUS_LABELS]
    keep = votes.argmax(1) < 8
    emo = votes[:, order]
    if drop_single_votes:
        cleaned = np.where(emo <= 1, 0.0, emo)
        emo = np.where(cleaned.sum(1, keepdims=True) > 0, cleaned, emo)
    total = emo.sum(1, keepdims=True)
    keep &= total[:, 0] > 0
    soft = np.divide(emo, total, out=np.zeros_like(emo), where=total > 0)
    return keep, soft.astype(np.float32)


def read_ferplus_votes(label_csv: str | Path) -> tuple[list[str], np.ndarray]:
    names, votes = [], []
    with Path(label_csv).open(newline="") as fh:
        for row in csv.reader(fh):
            if not row:
                continue
            names.append(row[0])
            votes.append([float(v) for v in row[2:12]])
    return names, np.asarray(votes, np.float32).reshape(-1, 10)


def load_ferplus(root: str | Path, split: str = "Training") -> FaceArrays:
    """FER+ folders (FER2013Train/Valid/Test with label.csv): majority labels plus vote targets."""
    root = Path(root)
    folder = root / FERPLUS_SPLIT_FOLDERS.get(split, split)
    _check_dir(folder, "FER+ split folder")
    names, votes = read_ferplus_votes(folder / "label.csv")
    keep, soft = ferplus_targets(votes)
    images, kept_names, kept_soft, missing = [], [], [], 0
    for name, k, s in zip(names, keep, soft):
        if not k:
            continue
        f = folder / name
        if not f.is_file():
            missing += 1
            continue
        images.append(_read_grey(f))
        kept_names.append(name)
        kept_soft.append(s)
    if not images:
        raise FileNotFoundError(f"no FER+ images found in {folder}")
    soft_arr = np.stack(kept_soft)
    skipped = {"unknown_or_not_a_face": int((~keep).sum())}
    if missing:
        skipped["missing_file"] = missing
    return FaceArrays(np.stack(images), soft_arr.argmax(1).astype(np.int64), FERPLUS_LABELS, kept_names,
                      soft_arr, skipped)


def load_class_folders(root: str | Path, label_names: tuple[str, ...] = FER2013_LABELS,
                       size: int = 48, reader=None) -> FaceArrays:
    """Any folder with one sub-folder per class (names matched case-insensitively, with aliases).

    Images of classes the model does not know, and files that cannot be read, are counted in
    `skipped` rather than failing the whole run. `reader(path) -> grey uint8 (size, size)` lets
    callers run face detection first; where it returns None (no face) the photo goes to
    `no_face`, so an evaluation can count it as wrong instead of quietly shrinking its n.
    """
    root = Path(root)
    _check_dir(root, "image folder")
    reader = reader or (lambda p: _read_grey(p, size))
    images, labels, names, skipped, no_face, no_face_names = [], [], [], {}, [], []
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        label = canonical_label(class_dir.name)
        files = sorted(f for f in class_dir.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES)
        if label is None or label not in label_names:
            skipped[f"unknown_class:{class_dir.name}"] = len(files)
            continue
        for f in files:
            try:
                img = reader(f)
            except Exception:  # an unreadable file says nothing about the model: left out, counted
                skipped["unreadable"] = skipped.get("unreadable", 0) + 1
                continue
            if img is None:
                no_face.append(label_names.index(label))
                no_face_names.append(str(f.relative_to(root)))
                continue
            images.append(img)
            labels.append(label_names.index(label))
            names.append(str(f.relative_to(root)))
    if not images and not no_face:
        raise FileNotFoundError(f"no readable images of known classes under {root}")
    stacked = np.stack(images) if images else np.zeros((0, size, size), np.uint8)
    return FaceArrays(stacked, np.asarray(labels, np.int64), tuple(label_names), names,
                      skipped=skipped, no_face=np.asarray(no_face, np.int64), no_face_names=no_face_names)
