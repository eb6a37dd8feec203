"""Ship a trained run: copy its best weights into weights/, write the model card, and add the
test-split metrics (reported once, after model selection on the validation split).

Several runs of one architecture ship as one ensemble ('<arch>_x<N>', logits averaged): one
weights file, one card listing each member's recipe and validation score."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fer.commands import DEFAULT_DATA

HELP = "copy a run's best weights into weights/ with a model card holding its test metrics"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", nargs="+", help="training output folder(s) (best.safetensors, best.json); "
                                          "several make an ensemble")
    p.add_argument("--name", help="name in weights/ (default: <task>_<model>)")
    p.add_argument("--fp16", action="store_true", help="store the weights in half precision (half the size; "
                                                       "the metrics are measured on what is stored)")
    p.add_argument("--data", help="evaluation data (default: ../shared/data/fer2013 or ferplus)")
    p.add_argument("--dest", default=str(Path(__file__).resolve().parents[2] / "weights"))


def card_from_run(run: Path) -> dict:
    """The model card that training wrote beside its best weights."""
    card = run / "best.json"
    if not card.is_file():
        raise FileNotFoundError(f"{card} not found: publish a folder written by `python -m fer train`")
    return json.loads(card.read_text())


def ensemble_card(cards: list[dict]) -> dict:
    """One card for members that share architecture, labels and pre-processing."""
    first = cards[0]
    for c in cards[1:]:
        for key in ("architecture", "labels", "preprocessing"):
            if c[key] != first[key]:
                raise ValueError(f"ensemble members differ in {key}: {first[key]} vs {c[key]}")
    n = len(cards)
    card = {k: v for k, v in first.items() if k not in ("training", "metrics", "calibration")}
    card["architecture"] = f"{first['architecture']}_x{n}"
    card["description"] = f"{n} x {first['description']}, logits averaged"
    card["training"] = {"ensemble_of": [c["training"] for c in cards]}
    return card


def write_weights(runs: list[Path], path: Path, fp16: bool) -> None:
    from safetensors.torch import load_file, save_file

    states = [load_file(str(r / "best.safetensors")) for r in runs]
    state = states[0] if len(states) == 1 else {
        f"members.{i}.{k}": v for i, s in enumerate(states) for k, v in s.items()}
    if fp16:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))


def run(args) -> int:
    from fer.classifier import EmotionClassifier
    from fer.evaluate import evaluate, load_eval_data
    from fer.tta import TTA_POLICIES

    runs = [Path(r) for r in args.run]
    cards = [card_from_run(r) for r in runs]
    card = cards[0] if len(cards) == 1 else ensemble_card(cards)
    name = args.name or card["name"]
    card["name"] = name
    dest = Path(args.dest)
    write_weights(runs, dest / f"{name}.safetensors", args.fp16)
    (dest / f"{name}.json").write_text(json.dumps(card, indent=2) + "\n")
    clf = EmotionClassifier(dest / f"{name}.safetensors")
    task = "ferplus" if "contempt" in clf.labels else "fer2013"
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
