"""Weight averages ("model soups") of ResNet-M runs that share their starting weights.

The shipped ResNet-M models descend from one another: `ferplus_resnet_m` started from
`fer2013_resnet_m`, and the joint run from `ferplus_resnet_m`. Runs of one lineage can often be
averaged weight by weight into one network of the same size and cost. The FER-2013-only run reads
FER-2013's labels best, the FER+ model reads natural faces best, and an average can keep part of
each. The 8-class FER+ model takes part through its first seven output rows, which are FER-2013's
classes in the same order (contempt is dropped).

This script scores a grid of mixes on the selection data only: FER-2013 PublicTest, FER+ PublicTest
(7 classes, majority vote) and the wild dev photos through MTCNN and `fer.align` (a photo without
a found face counts as wrong). It applies `fer compare --select`'s rule against today's default
scored the same way (torch, float weights, one view). `--write DIR` saves one mix as a run folder
(best.safetensors and best.json) for `python -m fer publish DIR --name NAME`. The real clips are
not scored here: after `publish`, `python -m fer compare --models <default> NAME --tta none --select`
scores them, and the rule's clip veto applies there.

    .venv/bin/python scripts/soup_weights.py --min-first 0.3 --json docs/soup_weights.json \\
        --ingredients joint_resnet_m ferplus_resnet_m runs/fer2013_resnet_m.safetensors
    .venv/bin/python scripts/soup_weights.py --mix 0.5 0.2 0.3 --write runs/soup --ingredients ...

(The retired `fer2013_resnet_m` comes back from git:
`git show 9790dfc^:weights/fer2013_resnet_m.safetensors > runs/fer2013_resnet_m.safetensors`, and the
same for its .json.)
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

STEP = 0.1  # grid spacing of the weights (each mix sums to 1)


def seven_class_state(state: dict, labels: tuple[str, ...]) -> dict:
    """The state dict with its final layer cut to FER2013_LABELS, in that order."""
    from fer.labels import FER2013_LABELS
    from fer.models.heads import HEAD_BIAS, HEAD_WEIGHT

    rows = [labels.index(label) for label in FER2013_LABELS]
    return {**state, HEAD_WEIGHT: state[HEAD_WEIGHT][rows], HEAD_BIAS: state[HEAD_BIAS][rows]}


def average(states: list[dict], weights: tuple[float, ...]) -> dict:
    """Weighted mean of float tensors (BatchNorm's running statistics included); integer buffers
    (BatchNorm's batch counters) are taken from the first state."""
    first = states[0]
    return {k: (sum(w * s[k] for w, s in zip(weights, states)) if v.is_floating_point() else v)
            for k, v in first.items()}


def mixes(n: int, step: float = STEP) -> list[tuple[float, ...]]:
    """Every mix of n weights on the grid, summing to 1."""
    k = round(1 / step)
    return [tuple(round(c * step, 4) for c in combo)
            for combo in itertools.product(range(k + 1), repeat=n) if sum(combo) == k]


def write_run(out: Path, ingredients: list[str], cards: list, states: list[dict], weights: tuple[float, ...]) -> None:
    """The mix as a run folder that `fer publish` takes: fp16 weights and a card whose training
    section names every ingredient by its file's hash."""
    from dataclasses import replace

    from safetensors.torch import save_file

    from fer.labels import FER2013_LABELS
    from fer.weights import Calibration, sha256_of, weights_path

    out.mkdir(parents=True, exist_ok=True)
    soup = average(states, weights)
    save_file({k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in soup.items()},
              str(out / "best.safetensors"))
    training = {
        "method": "weight average (model soup) of runs that share their starting weights",
        "ingredients": [{"name": c.name, "weight": w, "sha256": sha256_of(weights_path(i)), "training": c.training}
                        for i, c, w in zip(ingredients, cards, weights)],
        "selected_on": "scripts/soup_weights.py on FER-2013 PublicTest, FER+ PublicTest and the wild dev photos",
    }
    card = replace(cards[0], name="soup", labels=FER2013_LABELS, training=training, metrics={}, metrics_data=None,
                   calibration=Calibration(), onnx=None, int8=None,
                   yardstick=None, description=f"{cards[0].description}; a weight average of {len(cards)} runs",
                   data={"train": "the ingredients' (FER-2013 Training faces, FER-2013 labels and FER+ votes)",
                         "validation": "PublicTest (and the wild dev photos, for the weights)"})
    card.write(out / "best.json")
    print(f"wrote {out}: publish it with `python -m fer publish {out} --name NAME`")


def main(argv: list[str] | None = None) -> int:
    import torch
    from joint_heads import figures, selection_domains

    from fer.classifier import EmotionClassifier
    from fer.commands.compare import domain_report, select_default
    from fer.data.locations import dataset_dir
    from fer.evaluate import predictions_report
    from fer.labels import FER2013_LABELS
    from fer.models.registry import create_model
    from fer.models.state import load_state
    from fer.train import predict_logits
    from fer.weights import DEFAULT_WEIGHTS, card_of, weights_path

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ingredients", nargs="+", required=True, help="names in weights/ or .safetensors paths")
    ap.add_argument("--mix", type=float, nargs="+", help="score only this mix (one weight per ingredient)")
    ap.add_argument("--step", type=float, default=STEP, help="grid spacing of the weights")
    ap.add_argument("--min-first", type=float, default=0.0,
                    help="skip mixes with less than this weight on the first ingredient")
    ap.add_argument("--default", default=DEFAULT_WEIGHTS, help="the model a mix must not lose to (the rule)")
    ap.add_argument("--wild", default=str(dataset_dir("wild")))
    ap.add_argument("--json", help="write the table here")
    ap.add_argument("--write", help="with --mix: save that mix here as a run folder for `fer publish`")
    args = ap.parse_args(argv)
    if args.mix and len(args.mix) != len(args.ingredients):
        ap.error("--mix needs one weight per ingredient")
    if args.write and not args.mix:
        ap.error("--write needs --mix")

    cards = [card_of(i) for i in args.ingredients]
    if len({(c.architecture, c.mean, c.std) for c in cards}) != 1:
        raise ValueError("the ingredients must share one architecture and normalisation")
    states = [seven_class_state(load_state(weights_path(i)), c.labels) for i, c in zip(args.ingredients, cards)]
    model = create_model(cards[0].architecture, len(FER2013_LABELS)).eval()
    mean, std = cards[0].mean, cards[0].std

    domains = selection_domains(Path(args.wild))
    cpu = torch.device("cpu")

    def scored(weights: tuple[float, ...]) -> dict:
        model.load_state_dict(average(states, weights))
        return {d: figures(predictions_report(f, FER2013_LABELS,
                                              predict_logits(model, f.images, mean, std, cpu).argmax(1)))
                for d, f in domains.items()}

    base = EmotionClassifier(args.default, precision="float")
    rows = [{"model": args.default, **{d: figures(domain_report(base, f, seven=True)) for d, f in domains.items()}}]
    print(json.dumps(rows[0]), flush=True)
    for weights in [tuple(args.mix)] if args.mix else [
            m for m in mixes(len(states), args.step) if m[0] >= args.min_first - 1e-9]:
        rows.append({"model": "soup:" + ",".join(f"{w:g}" for w in weights), "weights": weights, **scored(weights)})
        print(json.dumps(rows[-1]), flush=True)
    soups = [r for r in rows if "weights" in r]
    selection = select_default(soups + rows[:1], args.default)
    print(json.dumps({"chosen": selection["winner"], "eligible": selection["eligible"],
                      "rule": selection["rule"].replace("PrivateTest", "PublicTest")}))
    if args.json:
        Path(args.json).write_text(json.dumps({"ingredients": args.ingredients, "rows": rows, "selection": selection},
                                              indent=1))
    if args.write:
        write_run(Path(args.write), args.ingredients, cards, states, tuple(args.mix))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
