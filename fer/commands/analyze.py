"""Find every face in one or more images and print its emotion: one line per face.

A file that cannot be read is reported and skipped; the others are still analysed, and the
exit status is 1 when any file failed (2 for a usage error such as missing weights)."""

from __future__ import annotations

import argparse

from fer.tta import TTA_POLICIES

HELP = "emotions of the faces in images: one line per face, optional JSON and annotated copies"

# Below this many pixels a side no detector can find a face; say so rather than only 'no face'.
MIN_SIDE = 12


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (JPEG, PNG, WebP, BMP, TIFF, GIF)")
    p.add_argument("--json", metavar="OUT", help="write all results (and errors) as JSON here")
    p.add_argument("--annotate", metavar="OUT_DIR", help="write a copy of each image with boxes and labels here")
    p.add_argument("--weights", default=None, help="a name in weights/ or a .safetensors path (default model if unset)")
    p.add_argument("--min-score", type=float, default=0.9, help="face detector confidence needed (default 0.9)")
    p.add_argument("--tta", default="flip_zoom", choices=TTA_POLICIES,
                   help="test-time augmentation (default: %(default)s, the most accurate; ~5 ms more "
                        "per face than none)")


def run(args) -> int:
    import json
    import sys
    from pathlib import Path

    from fer.imageio import ImageError, load_image
    from fer.recognizer import EmotionRecognizer

    if not 0.0 <= args.min_score <= 1.0:
        raise ValueError(f"--min-score must be between 0 and 1, got {args.min_score}")
    recognizer = EmotionRecognizer(args.weights, min_score=args.min_score)
    out_dir = Path(args.annotate) if args.annotate else None
    if out_dir:
        out_dir.mkdir(parents=True, exist_ok=True)
    results, failed = [], 0
    for name in args.images:
        entry: dict = {"file": name, "faces": [], "error": None}
        try:
            rgb = load_image(name)
            faces = recognizer.classify(rgb, recognizer.detect(rgb), args.tta)
            entry["faces"] = [f.to_dict() for f in faces]
            entry["size"] = [int(rgb.shape[1]), int(rgb.shape[0])]
            for i, f in enumerate(faces, 1):
                box = ", ".join(f"{v:.0f}" for v in f.box)
                print(f"{name}: face {i}: {f.label} {f.confidence:.2f} box=({box})")
            if not faces:
                small = min(rgb.shape[:2]) < MIN_SIDE
                hint = f" (the image is only {rgb.shape[1]}x{rgb.shape[0]} pixels)" if small else ""
                print(f"no face found in {name}{hint}")
            if out_dir:
                entry["annotated"] = str(_write_annotated(rgb, faces, out_dir, name))
        except ImageError as e:
            entry["error"] = str(e)
        except Exception as e:  # one bad file must not stop the batch, nor print a traceback
            entry["error"] = f"could not analyse this file ({type(e).__name__}: {e})"
        if entry["error"]:
            failed += 1
            print(f"error: {name}: {entry['error']}", file=sys.stderr)
        results.append(entry)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"weights": str(recognizer.classifier.weights_path),
                                               "images": results}, indent=2) + "\n")
    if failed:
        print(f"{failed} of {len(args.images)} file(s) could not be analysed", file=sys.stderr)
    return 1 if failed else 0


def _write_annotated(rgb, faces, out_dir, name):
    from pathlib import Path

    import cv2

    from fer.annotate import EmotionAnnotator

    scene = EmotionAnnotator().annotate(rgb.copy(), faces)
    path = out_dir / f"{Path(name).stem}_annotated.png"
    if not cv2.imwrite(str(path), cv2.cvtColor(scene, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")
    return path
