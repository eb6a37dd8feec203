"""Test-time augmentation: the classifier sees several views of each face and averages the logits.

Policies are chosen on FER-2013 PublicTest (the validation split) and cost one network pass per
view: "flip" doubles the classifier time, "flip_zoom" (mirror x 1.1 zoom about the centre)
quadruples it. The live webcam keeps "none"; photos and evaluations can afford more.
"""

from __future__ import annotations

import cv2
import numpy as np

TTA_POLICIES = ("none", "flip", "flip_zoom")
ZOOM = 1.1


def _zoom(x: np.ndarray, scale: float) -> np.ndarray:
    """(N, C, S, S) float32 enlarged about the centre, edges replicated, size unchanged."""
    s = x.shape[-1]
    m = cv2.getRotationMatrix2D(((s - 1) / 2, (s - 1) / 2), 0, scale)
    flat = x.reshape(-1, s, s)
    out = np.stack([cv2.warpAffine(img, m, (s, s), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                    for img in flat])
    return out.reshape(x.shape)


def tta_views(x: np.ndarray, policy: str) -> np.ndarray:
    """All views of a pre-processed batch (N, C, S, S), stacked view-major: (V * N, C, S, S)."""
    if policy not in TTA_POLICIES:
        raise ValueError(f"unknown test-time augmentation {policy!r}; choose one of {', '.join(TTA_POLICIES)}")
    views = [x]
    if policy in ("flip", "flip_zoom"):
        views.append(x[..., ::-1])
    if policy == "flip_zoom":
        z = _zoom(x, ZOOM)
        views += [z, z[..., ::-1]]
    return np.ascontiguousarray(np.concatenate(views)) if len(views) > 1 else x


def merge_views(logits: np.ndarray, n: int) -> np.ndarray:
    """Mean over the views of `tta_views`' output for a batch of `n` faces."""
    return logits.reshape(-1, n, logits.shape[-1]).mean(0)
