"""Teacher outputs for distillation, computed once per (images, teacher weights) and cached.

A teacher is a shipped model run as the product runs it (ONNX Runtime, its calibration
temperature) with a test-time augmentation policy (flip by default): its probabilities on every
training face are stored in an .npz under the cache folder, keyed by a hash of the images and of
the teacher's weights, so a resumed or repeated run never recomputes them.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

DEFAULT_CACHE = Path.home() / ".cache" / "fer-runs" / "teachers"


def images_key(images: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(str(images.shape).encode())
    h.update(np.ascontiguousarray(images).tobytes())
    return h.hexdigest()[:16]


def teacher_probs(images: np.ndarray, weights: str | Path, tta: str = "flip",
                  cache_dir: str | Path = DEFAULT_CACHE) -> np.ndarray:
    """(N, C) probabilities of the teacher `weights` (a name in weights/ or a path) on `images`
    ((N, 48, 48) uint8 aligned grey faces), in the teacher's label order; cached."""
    from fer.classifier import EmotionClassifier
    from fer.weights import sha256_of, weights_path

    wpath = weights_path(weights)
    key = f"{Path(wpath).stem}-{tta}-{sha256_of(wpath)[:12]}-{images_key(images)}.npz"
    path = Path(cache_dir) / key
    if path.is_file():
        with np.load(path) as z:
            return z["probs"]
    clf = EmotionClassifier(wpath, tta=tta, precision="float")
    t = time.time()
    probs = clf.predict_proba(images, tta=tta)
    log.info("teacher %s (%s) on %d faces: %.0f s", wpath.stem, tta, len(images), time.time() - t)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, probs=probs.astype(np.float32), labels=np.array(clf.labels))
    tmp.replace(path)
    return probs.astype(np.float32)
