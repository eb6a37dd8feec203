"""Ship a trained run: copy its best weights into weights/, write the model card, and add the
test-split metrics (reported once, after model selection on the validation split)."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from fer.commands import DEFAULT_DATA

HELP = "copy a run's best weights into weights/ with a model card holding its test metrics"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="a training output folder (best.safetensors, history.json)")
    p.add_argument("--name", help="name in weights/ (default: <task>_<model>)")
    p.add_argument("--data", help="evaluation data (default: ../shared/data/fer2013 or ferplus)")
    p.add_argument("--dest", default=str(Path(__file__).resolve().parents[2] / "weights"))


def card_from_run(run: Path) -> dict:
    """The model card that training wrote beside its best weights."""
    card = run / "best.json"
    if not card.is_file():
        raise FileNotFoundError(f"{card} not found: publish a folder written by `python -m fer train`")
    return json.loads(card.read_text())


def run(args) -> int:
    from fer.classifier import EmotionClassifier
    from fer.evaluate import evaluate, load_eval_data
    from fer.labels import dataset_of
    from fer.tta import TTA_POLICIES

    src = Path(args.run)
    card = card_from_run(src)
    name = args.name or card["name"]
    card["name"] = name
    dest = Path(args.dest)
    shutil.copyfile(src / "best.safetensors", dest / f"{name}.safetensors")
    (dest / f"{name}.json").write_text(json.dumps(card, indent=2) + "\n")
    clf = EmotionClassifier(dest / f"{name}.safetensors")
    task = dataset_of(clf.labels)
    data = args.data or str(DEFAULT_DATA / task)
    metrics = {}
    for split in ("PublicTest", "PrivateTest"):
        faces, _ = load_eval_data(data, split, clf.labels)
        for tta in TTA_POLICIES:
            clf.tta = tta
            report, _ = evaluate(clf, faces)
            key = split + ("" if tta == "none" else f" + {tta} TTA")
            metrics[key] = {"n": report.n, "accuracy": round(report.accuracy, 4),
                            "macro_f1": round(report.macro_f1, 4), "weighted_f1": round(report.weighted_f1, 4),
                            "per_class_recall": {k: round(v.recall, 4) for k, v in report.per_class.items()},
                            "per_class_f1": {k: round(v.f1, 4) for k, v in report.per_class.items()}}
            print(f"{key}: accuracy {report.accuracy:.4f}, macro-F1 {report.macro_f1:.4f}", flush=True)
    card["metrics"] = {"data": f"{task} ({'FER+ majority vote, unknown/not-a-face removed' if task == 'ferplus' else 'FER-2013'})",
                       **metrics}
    (dest / f"{name}.json").write_text(json.dumps(card, indent=2) + "\n")
    print(f"wrote {dest / name}.safetensors and .json")
    return 0
