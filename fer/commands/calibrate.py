"""Fit a softmax temperature on the validation split and store it in the model card.

Temperature scaling changes how confident the probabilities are, never which emotion wins.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fer.commands import DEFAULT_DATA

HELP = "fit the temperature on PublicTest (or FER+ Valid) and write it into the model card"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights", default=None, help="a name in weights/ or a .safetensors path")
    p.add_argument("--data", default=None, help="default: ../shared/data/fer2013 (or ferplus for 8-class models)")
    p.add_argument("--split", default="PublicTest")
    p.add_argument("--png", help="reliability diagram PNG (before/after)")
    p.add_argument("--dry-run", action="store_true", help="report only, leave the card unchanged")


def run(args) -> int:
    from fer.classifier import EmotionClassifier, softmax
    from fer.evaluate import load_eval_data
    from fer.labels import dataset_of
    from fer.metrics import (
        expected_calibration_error,
        fit_temperature,
        negative_log_likelihood,
        save_reliability_png,
    )
    from fer.weights import Calibration, card_path

    clf = EmotionClassifier(args.weights, precision="float")  # one temperature, fitted on the model
    data = args.data or str(DEFAULT_DATA / dataset_of(clf.labels))
    faces, _ = load_eval_data(data, args.split, clf.labels)
    logits = clf.predict_logits(faces.images)
    y = faces.labels
    t = fit_temperature(logits, y)
    before, after = softmax(logits), softmax(logits, t)
    summary = Calibration(temperature=round(t, 4), fitted_on=f"{Path(data).name} {args.split} (n={len(y)})",
                          ece_before=round(expected_calibration_error(before, y), 4),
                          ece_after=round(expected_calibration_error(after, y), 4),
                          nll_before=round(negative_log_likelihood(before, y), 4),
                          nll_after=round(negative_log_likelihood(after, y), 4))
    print(json.dumps(summary.to_dict(), indent=1))
    if args.png:
        save_reliability_png(before, after, y, args.png)
        print(f"wrote {args.png}")
    if not args.dry_run:
        cpath = card_path(clf.weights_path)
        clf.card.with_calibration(summary).write(cpath)
        print(f"updated {cpath}")
    return 0
