"""Evaluate a model on FER-2013 (folders or CSV), FER+, or any folder of class sub-folders."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fer.tta import TTA_POLICIES

HELP = "evaluate a model: accuracy, macro/weighted F1, per-class metrics, confusion matrix"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", help="FER-2013 folder, fer2013.csv, FER+ root, or a folder with one sub-folder per class")
    p.add_argument("--split", default="PrivateTest", choices=["Training", "PublicTest", "PrivateTest"])
    p.add_argument("--weights", default=None, help="a name in weights/ or a .safetensors path (default model if unset)")
    p.add_argument("--detect", action="store_true",
                   help="run MTCNN first (uncropped photos); a photo without a found face counts as wrong")
    p.add_argument("--tta", default="none", choices=TTA_POLICIES,
                   help="test-time augmentation: average over the mirrored (flip) and also 1.1x zoomed "
                        "(flip_zoom) face; 2x / 4x the classifier time")
    p.add_argument("--min-agreement", type=float, default=0.0,
                   help="FER+: keep faces whose top emotion has more than this share of the votes "
                        "(0.5: a strict majority, as in the FERPlus reference code; default 0: every face)")
    p.add_argument("--backend", default="auto", choices=["auto", "onnx", "torch"])
    p.add_argument("--precision", default="auto", choices=["auto", "float", "int8"],
                   help="the graph to run: auto (int8 where the card's parity is good, as users get it)")
    p.add_argument("--json", help="write the report as JSON here")
    p.add_argument("--confusion-png", help="confusion-matrix PNG (default: beside --json)")


def run(args) -> int:
    from fer.classifier import EmotionClassifier
    from fer.evaluate import detecting_reader, evaluate, load_eval_data
    from fer.metrics import save_confusion_png

    clf = EmotionClassifier(args.weights, backend=args.backend, tta=args.tta, precision=args.precision)
    reader = None
    if args.detect:
        from fer.detection import FaceDetector

        reader = detecting_reader(FaceDetector(), clf.input_size)
    faces, layout = load_eval_data(args.data, args.split, clf.labels, reader, args.min_agreement)
    report, _ = evaluate(clf, faces)
    report.extra.update({"data": str(args.data), "layout": layout,
                         "split": args.split if layout != "class_folders" else None,
                         "weights": str(clf.weights_path), "precision": clf.precision, "tta": args.tta,
                         "detect": args.detect,
                         "min_agreement": args.min_agreement})
    print(f"{clf.card.name} ({clf.precision}) on {args.data} "
          f"({layout}{', ' + args.split if layout != 'class_folders' else ''})")
    print(report.to_text())
    if faces.skipped:
        print("skipped: " + ", ".join(f"{k}={v}" for k, v in faces.skipped.items()))
    png = args.confusion_png or (str(Path(args.json).with_suffix(".png")) if args.json else None)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report.to_dict(), indent=1))
        print(f"wrote {args.json}")
    if png:
        save_confusion_png(report, png)
        print(f"wrote {png}")
    return 0
