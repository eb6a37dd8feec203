"""Grad-CAM heat maps (occlusion for a ViT) for every face in a photo: where the evidence for an
emotion was."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "Grad-CAM (occlusion for a ViT) explanation for each face in an image (PNG)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("image")
    p.add_argument("--target", help="emotion to explain (default: the predicted one)")
    p.add_argument("--weights", default=None)
    p.add_argument("--out", help="PNG to write (default: <image>_gradcam.png in the current folder)")


def run(args) -> int:
    import cv2
    import numpy as np

    from fer.explain import explain_face, overlay
    from fer.imageio import load_image
    from fer.labels import display_name
    from fer.recognizer import EmotionRecognizer

    rec = EmotionRecognizer(args.weights)
    if args.target and args.target not in rec.labels:
        raise ValueError(f"unknown emotion {args.target!r}; this model knows {', '.join(rec.labels)}")
    rgb = load_image(args.image)
    faces = rec.detect(rgb)
    if not faces:
        print(f"no face found in {args.image}")
        return 1
    tiles = []
    for i, face in enumerate(faces):
        crop, cam = explain_face(rec.classifier, rgb, face, args.target)
        tile = overlay(crop, cam.heatmap)
        cv2.putText(tile, f"{display_name(cam.target)} {cam.probs[cam.target]:.0%}", (4, 16),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
        tiles.append(tile)
        print(f"face {i + 1}: explained {cam.target} (p={cam.probs[cam.target]:.2f}, {cam.method_name})")
    out = Path(args.out or f"{Path(args.image).stem}_gradcam.png")
    cv2.imwrite(str(out), cv2.cvtColor(np.concatenate(tiles, 1), cv2.COLOR_RGB2BGR))
    print(f"wrote {out}")
    return 0
