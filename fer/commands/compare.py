"""Evaluate every shipped model (and the HOG + SVM baseline) on the same split: one table."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from fer.commands import DEFAULT_DATA

HELP = "compare all shipped models: accuracy, macro-F1, disgust/fear recall, ECE, size, CPU ms/face"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default=str(DEFAULT_DATA / "fer2013"))
    p.add_argument("--split", default="PrivateTest")
    p.add_argument("--models", nargs="*", help="names in weights/ (default: all FER-2013 7-class models)")
    p.add_argument("--baseline", default="weights/baseline_hog_svm.npz")
    p.add_argument("--json", help="write the table as JSON")
    p.add_argument("--markdown", help="write the table as Markdown")


def _ms_per_face(clf, crop, n: int = 200) -> float:
    for _ in range(10):
        clf.predict_proba(crop)
    t = time.perf_counter()
    for _ in range(n):
        clf.predict_proba(crop)
    return (time.perf_counter() - t) / n * 1000


def run(args) -> int:
    from fer.classifier import EmotionClassifier
    from fer.evaluate import load_eval_data
    from fer.labels import FER2013_LABELS
    from fer.metrics import classification_report
    from fer.tta import TTA_POLICIES
    from fer.weights import list_weights

    names = args.models or list_weights()
    rows, data_cache = [], {}
    for name in names:
        for tta in TTA_POLICIES:
            clf = EmotionClassifier(name, tta=tta)
            if clf.labels != FER2013_LABELS and not args.models:
                break  # 8-class FER+ models are compared on FER+ by `evaluate`
            if clf.labels not in data_cache:
                data_cache[clf.labels] = load_eval_data(args.data, args.split, clf.labels)[0]
            faces = data_cache[clf.labels]
            probs = clf.predict_proba(faces.images)
            r = classification_report(faces.labels, probs.argmax(1), clf.labels, probs)
            rows.append({"model": name + ("" if tta == "none" else f" + {tta} TTA"), "accuracy": r.accuracy,
                         "macro_f1": r.macro_f1, "recall_disgust": r.per_class["disgust"].recall,
                         "recall_fear": r.per_class["fear"].recall, "ece": r.ece,
                         "params_m": sum(p.numel() for p in clf.model.parameters()) / 1e6,
                         "ms_per_face": _ms_per_face(clf, faces.images[:1])})
            print(rows[-1], flush=True)
    if Path(args.baseline).is_file():
        from fer.baseline import HogSvm

        svm = HogSvm.load(args.baseline)
        faces = data_cache.get(svm.labels) or load_eval_data(args.data, args.split, svm.labels)[0]
        r = classification_report(faces.labels, svm.predict(faces.images), svm.labels)
        t = time.perf_counter()
        for i in range(200):
            svm.predict(faces.images[i : i + 1])
        rows.append({"model": "HOG + linear SVM", "accuracy": r.accuracy, "macro_f1": r.macro_f1,
                     "recall_disgust": r.per_class["disgust"].recall, "recall_fear": r.per_class["fear"].recall,
                     "ece": None, "params_m": svm.coef.size / 1e6,
                     "ms_per_face": (time.perf_counter() - t) / 200 * 1000})
    header = "| model | accuracy | macro-F1 | recall disgust | recall fear | ECE | params (M) | ms/face (CPU, batch 1) |"
    lines = [header, "|" + "---|" * 8]
    for r in rows:
        ece = "-" if r["ece"] is None else f"{r['ece']:.3f}"
        lines.append(f"| {r['model']} | {r['accuracy']:.1%} | {r['macro_f1']:.3f} | {r['recall_disgust']:.2f} | "
                     f"{r['recall_fear']:.2f} | {ece} | {r['params_m']:.2f} | {r['ms_per_face']:.2f} |")
    table = "\n".join(lines)
    print(f"\n{args.split} of {args.data}\n{table}")
    if args.json:
        Path(args.json).write_text(json.dumps({"split": args.split, "rows": rows}, indent=1))
    if args.markdown:
        Path(args.markdown).write_text(table + "\n")
    return 0
