"""Train the HOG + linear SVM baseline on FER-2013 Training, pick C on PublicTest, report PrivateTest."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fer.commands import DEFAULT_DATA

HELP = "train and evaluate the classical HOG + linear SVM baseline"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default=str(DEFAULT_DATA / "fer2013"), help="FER-2013 folder layout or fer2013.csv")
    p.add_argument("--c", type=float, nargs="+", default=[0.01, 0.05], help="SVM C values tried on PublicTest")
    p.add_argument("--out", default="weights/baseline_hog_svm.npz")
    p.add_argument("--json", help="write the PrivateTest report here")


def run(args) -> int:
    from fer.baseline import train_hog_svm
    from fer.evaluate import load_eval_data
    from fer.labels import FER2013_LABELS
    from fer.metrics import classification_report

    train, _ = load_eval_data(args.data, "Training", FER2013_LABELS)
    val, _ = load_eval_data(args.data, "PublicTest", FER2013_LABELS)
    test, _ = load_eval_data(args.data, "PrivateTest", FER2013_LABELS)
    best = None
    for c in args.c:
        model = train_hog_svm(train, c=c)
        acc = float((model.predict(val.images) == val.labels).mean())
        print(f"C={c}: PublicTest accuracy {acc:.4f}", flush=True)
        if best is None or acc > best[0]:
            best = (acc, c, model)
    acc, c, model = best
    report = classification_report(test.labels, model.predict(test.images), FER2013_LABELS)
    report.extra.update({"model": "hog_linear_svm", "C": c, "val_accuracy": acc})
    print(f"PrivateTest (C={c}):\n{report.to_text()}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    model.save(args.out)
    print(f"wrote {args.out}")
    if args.json:
        Path(args.json).write_text(json.dumps(report.to_dict(), indent=1))
    return 0
