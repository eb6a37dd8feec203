"""Find every face in one or more images and print its emotion: one line per face.

A file that cannot be read is reported and skipped; the others are still analysed. Exit status:
0 all analysed, 1 some inputs failed, 2 a usage error (bad option, missing weights). --json
writes the versioned faces document of `fer.schema`, the same one the HTTP API returns."""

from __future__ import annotations

import argparse
from dataclasses import replace

from fer.recognizer import DEFAULT_MAX_FACES
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
    p.add_argument("--min-face", type=int, default=20, metavar="PX",
                   help="smallest face to detect, in pixels (default: %(default)s; larger is faster)")
    p.add_argument("--max-faces", type=int, default=DEFAULT_MAX_FACES, metavar="N",
                   help="analyse at most the N largest faces of each image (default: %(default)s)")
    p.add_argument("--tta", default="flip_zoom", choices=TTA_POLICIES,
                   help="test-time augmentation (default: %(default)s, the most accurate; ~5 ms more "
                        "per face than none)")


def run(args) -> int:
    import json
    import sys
    from pathlib import Path

    from fer.imageio import ImageError, load_image
    from fer.recognizer import EmotionRecognizer
    from fer.schema import FacesReport, ImageResult, analyze_image, model_name

    if not 0.0 <= args.min_score <= 1.0:
        raise ValueError(f"--min-score must be between 0 and 1, got {args.min_score}")
    if args.min_face < 1 or args.max_faces < 1:
        raise ValueError("--min-face and --max-faces must be >= 1")
    recognizer = EmotionRecognizer(args.weights, min_score=args.min_score, min_face_size=args.min_face,
                                   max_faces=args.max_faces)
    out_dir = Path(args.annotate) if args.annotate else None
    if out_dir:
        out_dir.mkdir(parents=True, exist_ok=True)
    results: list[ImageResult] = []
    for name in args.images:
        try:
            rgb = load_image(name)
            result = analyze_image(recognizer, rgb, name, args.tta)
            for i, f in enumerate(result.faces, 1):
                box = ", ".join(f"{v:.0f}" for v in f.box)
                print(f"{name}: face {i}: {f.label} {f.confidence:.2f} box=({box})")
            if not result.faces:
                small = min(rgb.shape[:2]) < MIN_SIDE
                hint = f" (the image is only {rgb.shape[1]}x{rgb.shape[0]} pixels)" if small else ""
                print(f"no face found in {name}{hint}")
            if out_dir:
                result = replace(result, annotated=str(_write_annotated(rgb, result.faces, out_dir, name)))
        except ImageError as e:
            result = ImageResult(name, error=str(e))
        except Exception as e:  # one bad file must not stop the batch, nor print a traceback
            result = ImageResult(name, error=f"could not analyse this file ({type(e).__name__}: {e})")
        if not result.ok:
            print(f"error: {name}: {result.error}", file=sys.stderr)
        results.append(result)
    if args.json:
        report = FacesReport(model_name(recognizer), tuple(recognizer.labels), args.tta, tuple(results))
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    failed = sum(not r.ok for r in results)
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
