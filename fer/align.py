"""Crop faces so that they look like the training data: eyes level, same scale and placement.

The template (where the eyes and the mouth centre sit in a 48x48 FER-2013 face) was measured
by running MTCNN on upscaled FER-2013 training faces (`benchmarks/measure_template.py`), so a
webcam face is warped into the geometry the classifier learned from. A similarity transform
(rotation, uniform scale, shift) keeps the face's proportions.
"""

from __future__ import annotations

import cv2
import numpy as np

from fer.results import Face

# (x, y) in a 48x48 crop: image-left eye, image-right eye, mouth centre. Median over FER-2013
# training faces (see module docstring).
TEMPLATE_48 = np.array([[15.1, 18.3], [32.9, 18.3], [24.0, 37.6]], np.float32)


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares 2x3 similarity mapping src points onto dst points (Umeyama, no reflection)."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.diag([1.0, np.sign(np.linalg.det(u @ vt)) or 1.0])
    rot = u @ sign @ vt
    var = (s**2).sum() / len(src)
    scale = (sig * np.diag(sign)).sum() / var if var > 0 else 1.0
    m = np.zeros((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - scale * rot @ mu_s
    return m


def face_transform(face: Face, size: int = 48) -> np.ndarray:
    """2x3 matrix from image pixels to the size x size crop."""
    template = TEMPLATE_48 * (size / 48.0)
    if face.has_landmarks:
        lm = face.landmarks
        pts = np.stack([lm[0], lm[1], (lm[3] + lm[4]) / 2])
        return similarity_transform(pts, template)
    # No landmarks: a square around the box centre, sized like the template's face.
    x1, y1, x2, y2 = face.box
    side = max(x2 - x1, y2 - y1)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    s = size / (side * 1.0)
    return np.array([[s, 0, size / 2 - s * cx], [0, s, size / 2 - s * cy]])


def to_grey(image: np.ndarray) -> np.ndarray:
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def align_faces(image: np.ndarray, faces: list[Face], size: int = 48) -> np.ndarray:
    """(N, size, size) uint8 grey crops, one per face, in the order given."""
    grey = to_grey(image)
    out = np.empty((len(faces), size, size), np.uint8)
    for i, face in enumerate(faces):
        m = face_transform(face, size)
        scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
        src = grey
        if scale < 0.5:  # shrinking a lot: pre-blur via area resize to avoid aliasing
            f = max(scale * 2, 1e-3)
            src = cv2.resize(grey, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
            m = m.copy()
            m[:, :2] /= f
        out[i] = cv2.warpAffine(src, m, (size, size), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REPLICATE)
    return out
