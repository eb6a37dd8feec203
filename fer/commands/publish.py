"""Ship a trained run: copy its best weights into weights/, export the ONNX graph the runtime
loads, write the model card, and add the test-split metrics (reported once, after model
selection on the validation split).

`--onnx-only NAME` re-exports the graphs of weights already in weights/ (metrics unchanged):
the classifier never exports at start-up, so a weights file without its graph runs on torch.

Each model also gets an int8 graph (static quantisation calibrated on training faces, parity
with the float model measured on PublicTest and written into the card); the runtime runs it
where that parity meets the targets. `--no-int8` leaves it out.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fer.commands import DEFAULT_DATA

HELP = "ship a run's best weights (or re-export shipped ones) as safetensors + ONNX + model card"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", nargs="+", help="a training output folder (best.safetensors, best.json); with "
                   "--onnx-only, names in weights/ or .safetensors paths")
    p.add_argument("--name", help="name in weights/ (default: the name in the run's card)")
    p.add_argument("--data", help="evaluation data (default: ../shared/data/fer2013 or ferplus)")
    p.add_argument("--dest", default=str(Path(__file__).resolve().parents[2] / "weights"))
    p.add_argument("--head", default=None,
                   help="a joint run (--task joint): which model to make of its two heads: 'fer2013', 'ferplus' "
                        "(8 classes) or 'blend:W' (7 classes: W x the FER-2013 head + (1 - W) x the FER+ head)")
    p.add_argument("--onnx-only", action="store_true",
                   help="only (re)write the ONNX graphs and the card's onnx and int8 sections of shipped weights")
    p.add_argument("--no-int8", action="store_true", help="write no int8 graph (and drop the card's int8 section)")


def write_onnx(weights: Path):
    """Export the graph beside `weights` and record it in the card there; returns the new card."""
    from fer.models.export import export_onnx
    from fer.models.state import load_model
    from fer.weights import card_of, card_path, onnx_path

    card = card_of(weights)
    model = load_model(card.architecture, len(card.labels), weights)
    card = card.with_onnx(export_onnx(model, card, weights, onnx_path(weights)))
    card.write(card_path(weights))
    print(f"wrote {onnx_path(weights)} ({', '.join(card.onnx.outputs)}; sha256 {card.onnx.sha256[:12]})")
    return card


def write_int8(weights: Path, data: str | None):
    """Quantise the graph beside `weights` to int8, check parity, record both in the card."""
    from fer.evaluate import load_eval_data
    from fer.labels import dataset_of
    from fer.models.quantize import quantize_weights
    from fer.weights import card_of, card_path

    card = card_of(weights)
    data = data or str(DEFAULT_DATA / dataset_of(card.labels))
    try:
        train = load_eval_data(data, "Training", card.labels)[0]
    except (ValueError, FileNotFoundError) as e:
        raise ValueError(f"the int8 graph is calibrated on training faces, and {data} has none ({e}); "
                         "pass --no-int8 to publish without it") from e
    val = load_eval_data(data, "PublicTest", card.labels)[0]
    card = card.with_int8(quantize_weights(weights, train, val))
    card.write(card_path(weights))
    q = card.int8
    print(f"wrote {q.graph.file}: top-1 agreement {q.top1_agreement:.2%} with the float graph, accuracy "
          f"{q.int8_accuracy:.2%} vs {q.float_accuracy:.2%} on {q.parity_split} "
          f"({'used' if q.parity_ok else 'NOT used: parity misses the targets'})")
    return card


def drop_int8(weights: Path) -> None:
    from fer.weights import card_of, card_path, int8_path

    card = card_of(weights)
    int8_path(weights, card).unlink(missing_ok=True)
    card.with_int8(None).write(card_path(weights))


def int8_step(weights: Path, args) -> None:
    if args.no_int8:
        drop_int8(weights)
    else:
        write_int8(weights, args.data)


def evaluate_card(weights: Path, data: str | None):
    """The card beside `weights` with PublicTest and PrivateTest metrics for every TTA policy."""
    from fer.classifier import EmotionClassifier
    from fer.evaluate import evaluate, load_eval_data
    from fer.labels import DATASET_NAMES, dataset_of
    from fer.tta import TTA_POLICIES
    from fer.weights import SplitMetrics, metric_key

    clf = EmotionClassifier(weights, precision="float")  # the model's own figures; int8 has its parity
    task = dataset_of(clf.labels)
    data = data or str(DEFAULT_DATA / task)
    metrics = {}
    for split in ("PublicTest", "PrivateTest"):
        faces, _ = load_eval_data(data, split, clf.labels)
        for tta in TTA_POLICIES:
            clf.tta = tta  # this classifier is publish's own
            report, _ = evaluate(clf, faces)
            key = metric_key(split, tta)
            metrics[key] = SplitMetrics(
                n=report.n, accuracy=round(report.accuracy, 4), macro_f1=round(report.macro_f1, 4),
                weighted_f1=round(report.weighted_f1, 4),
                per_class_recall={k: round(v.recall, 4) for k, v in report.per_class.items()},
                per_class_f1={k: round(v.f1, 4) for k, v in report.per_class.items()})
            print(f"{key}: accuracy {report.accuracy:.4f}, macro-F1 {report.macro_f1:.4f}", flush=True)
    detail = "FER+ majority vote, unknown/not-a-face removed" if task == "ferplus" else DATASET_NAMES[task]
    return clf.card.with_metrics(metrics, data=f"{task} ({detail})")


def one_head(src: Path, card, head: str, dest: Path):
    """Write a one-head model made of a joint run's best weights to `dest`; returns its card."""
    from dataclasses import replace

    from fer.labels import FER2013_LABELS, FERPLUS_LABELS
    from fer.models import create_model
    from fer.models.heads import blend_fer2013, take_head
    from fer.models.state import load_state, save_weights

    heads = tuple(card.training["recipe"]["heads"])
    state = load_state(src / "best.safetensors")
    if head == "fer2013":
        state, labels = take_head(state, heads, 0), FER2013_LABELS
    elif head == "ferplus":
        state, labels = take_head(state, heads, 1), FERPLUS_LABELS
    elif head.startswith("blend:"):
        state, labels = blend_fer2013(state, heads, float(head.split(":", 1)[1])), FER2013_LABELS
    else:
        raise ValueError(f"--head must be fer2013, ferplus or blend:W, not {head!r}")
    model = create_model(card.architecture, len(labels))
    model.load_state_dict(state)
    save_weights(model, dest)
    task = "ferplus" if head == "ferplus" else "fer2013"
    training = {**card.training, "head": head}
    data = {**card.data, "test": f"{task} PrivateTest (reported once)"}
    return replace(card, labels=tuple(labels), training=training, data=data)


def with_training_time(card, history: Path):
    """The run's wall time (its epochs' seconds added up) and the CPU it ran on, for the tables'
    training-time column; a card without a history is returned as it is."""
    import json
    from dataclasses import replace

    from fer.runtime import cpu_model

    if not history.is_file():
        return card
    epochs = json.loads(history.read_text())["history"]
    seconds = round(sum(e["seconds"] for e in epochs))
    return replace(card, training={**card.training, "train_seconds": seconds, "trained_on": cpu_model()})


def run(args) -> int:
    import shutil

    from fer.weights import ModelCard, card_path, weights_path

    if args.onnx_only:
        for name in args.run:
            path = weights_path(name)
            if not path.is_file():
                raise FileNotFoundError(f"weights not found: {path}")
            write_onnx(path)
            int8_step(path, args)
        return 0
    if len(args.run) != 1:
        raise ValueError("publish takes one run folder at a time (several names only with --onnx-only)")
    src = Path(args.run[0])
    if not (src / "best.json").is_file():
        raise FileNotFoundError(f"{src / 'best.json'} not found: publish a folder written by `python -m fer train`")
    card = ModelCard.read(src / "best.json")
    card = card.renamed(args.name or card.name)
    card = with_training_time(card, src / "history.json")
    dest = Path(args.dest) / f"{card.name}.safetensors"
    joint = bool(card.training.get("recipe", {}).get("heads"))
    if joint != bool(args.head):
        raise ValueError(f"{src} is a joint run: choose --head" if joint else "--head is for joint runs only")
    if joint:
        card = one_head(src, card, args.head, dest)
    else:
        shutil.copyfile(src / "best.safetensors", dest)
    card.write(card_path(dest))
    write_onnx(dest)
    evaluate_card(dest, args.data).write(card_path(dest))
    int8_step(dest, args)
    print(f"wrote {dest} and its .onnx and .json")
    return 0
