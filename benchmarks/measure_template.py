"""Measure where MTCNN finds the eyes and mouth in FER-2013 faces: the alignment template.

Run: python benchmarks/measure_template.py [--data ../shared/data/fer2013] [--n 600]
Prints the median (x, y) of both eyes and the mouth centre in 48x48 coordinates, which
`fer.align.TEMPLATE_48` holds.
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from fer.data import dataset_dir, load_fer2013_folder
from fer.detection import DetectorConfig, FaceDetector

UPSCALE = 4  # MTCNN needs more than 48 pixels to find a face reliably


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(dataset_dir("fer2013")))
    ap.add_argument("--n", type=int, default=600)
    args = ap.parse_args()
    faces = load_fer2013_folder(args.data, "Training")
    rng = np.random.default_rng(0)
    det = FaceDetector(DetectorConfig(min_score=0.95, max_side=0, min_face_size=60))
    pts = []
    for i in rng.choice(len(faces), args.n, replace=False):
        grey = cv2.resize(faces.images[i], None, fx=UPSCALE, fy=UPSCALE, interpolation=cv2.INTER_CUBIC)
        # Pad so the face is not cut at the border, where MTCNN is unreliable.
        pad = 48 * UPSCALE // 2
        big = cv2.copyMakeBorder(grey, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        found = det.detect(np.repeat(big[..., None], 3, 2))
        if len(found) != 1 or not found[0].has_landmarks:
            continue
        lm = (found[0].landmarks - pad) / UPSCALE
        pts.append(np.stack([lm[0], lm[1], (lm[3] + lm[4]) / 2]))
    p = np.median(np.stack(pts), 0)
    # Symmetrise: the template should be mirror-symmetric, as faces are flipped in training.
    eye_y = (p[0, 1] + p[1, 1]) / 2
    half = (p[1, 0] - p[0, 0]) / 2
    print(f"faces used: {len(pts)} of {args.n}")
    print(f"raw median: {np.round(p, 2).tolist()}")
    print(f"template: [[{24 - half:.1f}, {eye_y:.1f}], [{24 + half:.1f}, {eye_y:.1f}], [24.0, {p[2, 1]:.1f}]]")


if __name__ == "__main__":
    main()
