"""Evaluate every shipped model (and the HOG + SVM baseline) on its own test split and, through
the whole pipeline, on in-the-wild photos: one table.

The test split (FER-2013 PrivateTest for 7-class models, FER+ PrivateTest for 8-class ones) says
how well a model learnt its data set; the in-the-wild photos (shared/data/wild, loosely cropped,
noisily labelled, run through MTCNN like a user's photo) say how far that carries to other
faces. A wild photo without a found face counts as wrong. Faces are detected once and shared by
every model.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from fer.commands import DEFAULT_DATA

HELP = ("compare all shipped models on their test split and on in-the-wild photos: accuracy, macro-F1, "
        "disgust/fear recall, ECE, CPU ms/face")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default=str(DEFAULT_DATA / "fer2013"), help="FER-2013 (for 7-class models)")
    p.add_argument("--ferplus", default=str(DEFAULT_DATA / "ferplus"), help="FER+ root (for 8-class models)")
    p.add_argument("--wild", default=str(DEFAULT_DATA / "wild"),
                   help="photos in class folders, evaluated with face detection ('' to leave out)")
    p.add_argument("--split", default="PrivateTest")
    p.add_argument("--models", nargs="*", help="names in weights/ (default: all shipped models)")
    p.add_argument("--tta", nargs="*", default=None, help="TTA policies to list (default: all)")
    p.add_argument("--baseline", default="weights/baseline_hog_svm.npz")
    p.add_argument("--json", help="write the table as JSON")
    p.add_argument("--markdown", help="write the table as Markdown")


def _ms_per_face(predict, crop, n: int = 200) -> float:
    for _ in range(10):
        predict(crop)
    t = time.perf_counter()
    for _ in range(n):
        predict(crop)
    return (time.perf_counter() - t) / n * 1000


def _summary(report) -> dict:
    """The columns of one evaluation; per-class recall and no-face counts for the JSON."""
    return {"n": report.n, "accuracy": report.accuracy, "macro_f1": report.macro_f1,
            "recall_disgust": report.per_class["disgust"].recall if "disgust" in report.per_class else None,
            "recall_fear": report.per_class["fear"].recall if "fear" in report.per_class else None,
            "ece": report.ece, "recall": {k: m.recall for k, m in report.per_class.items()},
            "no_face": report.n_no_prediction, "accuracy_found_faces": report.answered_accuracy}


def _markdown(rows: list[dict]) -> str:
    def pct(v):
        return "-" if v is None else f"{v:.1%}"

    def num(v, f):
        return "-" if v is None else format(v, f)

    lines = ["| model | test split | accuracy | macro-F1 | recall disgust | recall fear | ECE | "
             "wild accuracy | wild macro-F1 | ms/face (CPU, batch 1) |", "|" + "---|" * 10]
    for r in rows:
        t, w = r["test"], r.get("wild") or {}
        cells = [r["model"], r["test_split"], pct(t["accuracy"]), num(t["macro_f1"], ".3f"),
                 num(t["recall_disgust"], ".2f"), num(t["recall_fear"], ".2f"), num(t["ece"], ".3f"),
                 pct(w.get("accuracy")), num(w.get("macro_f1"), ".3f"), f"{r['ms_per_face']:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run(args) -> int:
    import numpy as np

    from fer.classifier import EmotionClassifier
    from fer.evaluate import detecting_reader, evaluate, load_eval_data, predictions_report, to_model_labels
    from fer.labels import DATASET_NAMES, FER2013_LABELS, dataset_of
    from fer.tta import TTA_POLICIES
    from fer.weights import list_weights

    names = args.models or list_weights()
    policies = args.tta or list(TTA_POLICIES)
    test_data = {"fer2013": args.data, "ferplus": args.ferplus}
    cache: dict = {}
    wild = None
    if args.wild and Path(args.wild).is_dir():
        from fer.detection import FaceDetector

        t = time.perf_counter()
        wild, _ = load_eval_data(args.wild, args.split, FER2013_LABELS, detecting_reader(FaceDetector()))
        print(f"wild: faces found in {len(wild)} of {len(wild) + len(wild.no_face)} photos "
              f"({time.perf_counter() - t:.0f} s)", flush=True)
    rows = []
    for name in names:
        for tta in policies:
            clf = EmotionClassifier(name, tta=tta)
            dataset = dataset_of(clf.labels)
            key = (dataset, clf.labels)
            if key not in cache:
                cache[key] = load_eval_data(test_data[dataset], args.split, clf.labels)[0]
            test, _ = evaluate(clf, cache[key])
            row = {"model": name + ("" if tta == "none" else f" + {tta} TTA"), "weights": name, "tta": tta,
                   "test_split": f"{DATASET_NAMES[dataset]} {args.split}", "test": _summary(test),
                   "params_m": sum(p.numel() for p in clf.model.parameters()) / 1e6,
                   "ms_per_face": _ms_per_face(clf.predict_proba, cache[key].images[:1]),
                   "load_avg_1min": os.getloadavg()[0]}  # other work on the CPU while it was timed
            if wild is not None:
                row["wild"] = _summary(evaluate(clf, to_model_labels(wild, clf.labels))[0])
            rows.append(row)
            wild_acc = round(row["wild"]["accuracy"], 4) if wild is not None else None
            print(json.dumps({"model": row["model"], "ms_per_face": row["ms_per_face"],
                              "test_accuracy": round(test.accuracy, 4), "wild_accuracy": wild_acc}),
                  flush=True)
    if Path(args.baseline).is_file():
        from fer.baseline import HogSvm

        svm = HogSvm.load(args.baseline)
        faces = cache.get(("fer2013", svm.labels)) or load_eval_data(args.data, args.split, svm.labels)[0]
        row = {"model": "HOG + linear SVM", "weights": args.baseline, "tta": "none",
               "test_split": f"{DATASET_NAMES['fer2013']} {args.split}",
               "test": _summary(predictions_report(faces, svm.labels, svm.predict(faces.images))),
               "params_m": svm.coef.size / 1e6, "ms_per_face": _ms_per_face(svm.predict, faces.images[:1])}
        if wild is not None:
            w = to_model_labels(wild, svm.labels)
            pred = svm.predict(w.images) if len(w) else np.zeros(0, np.int64)
            row["wild"] = _summary(predictions_report(w, svm.labels, pred))
        rows.append(row)
    table = _markdown(rows)
    wild_note = ""
    if wild is not None:
        wild_note = (f"\nwild: {args.wild} through MTCNN, {len(wild) + len(wild.no_face)} photos, "
                     f"{len(wild.no_face)} without a found face (counted as wrong)")
    print(f"\n{args.split} split of each model's test set\n{table}{wild_note}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(
            {"split": args.split, "data": test_data, "wild": args.wild or None,
             "wild_photos": None if wild is None else len(wild) + len(wild.no_face),
             "wild_no_face": None if wild is None else wild.no_face_names, "rows": rows}, indent=1))
    if args.markdown:
        Path(args.markdown).write_text(table + "\n")
    return 0
