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
    p.add_argument("run", nargs="+", help="a training output folder (best.safetensors, history.json); "
                   "several runs of one architecture make one ensemble that averages their logits")
    p.add_argument("--name", help="name in weights/ (default: <task>_<model>)")
    p.add_argument("--data", help="evaluation data (default: ../shared/data/fer2013 or ferplus)")
    p.add_argument("--dest", default=str(Path(__file__).resolve().parents[2] / "weights"))


def card_from_run(run: Path) -> dict:
    if (run / "best.json").is_file():
        return json.loads((run / "best.json").read_text())
    # Runs from before cards were written by training: rebuild it from history.json.
    from fer.labels import FER2013_LABELS, FERPLUS_LABELS
    from fer.models import get_spec
    from fer.train import TrainConfig, training_card

    h = json.loads((run / "history.json").read_text())
    cfg = TrainConfig(**h["config"])
    labels = FERPLUS_LABELS if cfg.soft_targets else FER2013_LABELS
    n = {"fer2013": 28709, "ferplus": 28558}["ferplus" if cfg.soft_targets else "fer2013"]
    return training_card(cfg, get_spec(cfg.model), labels, n, h["best"], len(h["history"]))


def ensemble_card(cards: list[dict]) -> dict:
    """One card for runs of one architecture shipped as a `LogitMean` ensemble."""
    from fer.models import get_spec

    archs = {c["architecture"] for c in cards}
    if len(archs) != 1 or len({tuple(c["labels"]) for c in cards}) != 1:
        raise ValueError(f"an ensemble needs runs of one architecture and label set, got {sorted(archs)}")
    arch = f"{archs.pop()}_x{len(cards)}"
    card = {**cards[0], "name": cards[0]["name"] + f"_x{len(cards)}", "architecture": arch,
            "description": get_spec(arch).description}  # KeyError: no such ensemble registered
    card["training"] = {"ensemble": "mean of the members' logits", "members": [c["training"] for c in cards]}
    return card


def write_weights(runs: list[Path], path: Path) -> None:
    if len(runs) == 1:
        shutil.copyfile(runs[0] / "best.safetensors", path)
        return
    from safetensors.torch import save_file

    from fer.models.ensemble import merge_member_states
    from fer.weights import load_state

    state = merge_member_states([load_state(r / "best.safetensors") for r in runs])
    save_file({k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in state.items()}, str(path))


def run(args) -> int:
    from fer.classifier import EmotionClassifier
    from fer.evaluate import evaluate, load_eval_data

    runs = [Path(r) for r in args.run]
    cards = [card_from_run(r) for r in runs]
    card = cards[0] if len(cards) == 1 else ensemble_card(cards)
    name = args.name or card["name"]
    card["name"] = name
    dest = Path(args.dest)
    write_weights(runs, dest / f"{name}.safetensors")
    (dest / f"{name}.json").write_text(json.dumps(card, indent=2) + "\n")
    clf = EmotionClassifier(dest / f"{name}.safetensors")
    task = "ferplus" if "contempt" in clf.labels else "fer2013"
    data = args.data or str(DEFAULT_DATA / task)
    metrics = {}
    for split in ("PublicTest", "PrivateTest"):
        faces, _ = load_eval_data(data, split, clf.labels)
        for tta in (False, True):
            clf.flip_tta = tta
            report, _ = evaluate(clf, faces)
            key = split + (" + flip TTA" if tta else "")
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
