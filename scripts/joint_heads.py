"""Choose how a joint run's two heads are mixed into the shipped 7-class model.

A joint run (`python -m fer train --task joint`) ends in a FER-2013 head and a FER+ head on one
backbone; `python -m fer publish RUN --head blend:W` ships W x FER-2013 head + (1 - W) x FER+
head as one ordinary 7-class layer. This script scores every W on a grid, on the selection data
only: FER-2013 PublicTest (FER-2013 labels), FER+ PublicTest (the FER+ head's seven shared
classes, majority vote) and the in-the-wild dev photos through MTCNN and `fer.align` (a photo
without a found face counts as wrong; the crops are detected once and cached). The choice is
`fer compare --select`'s rule on these data: today's default is scored on them too, and a W
whose accuracy is more than a point below it on any domain is not eligible (a W that wins on
the mean but loses FER-2013 could never become the default). Test splits are left for
`python -m fer evaluate` after the choice.

    .venv/bin/python scripts/joint_heads.py ~/.cache/fer-runs/joint_m [--grid 0 0.25 0.5 0.75 1]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CACHE = Path.home() / ".cache" / "fer-runs"


def wild_crops(wild: Path, cache: Path = CACHE / "wild_dev_crops.npz"):
    """The wild dev photos as aligned 48x48 crops (MTCNN's most confident face) with their file
    names, cached (a cache from before the names were kept is rebuilt)."""
    from fer.data import FaceArrays
    from fer.labels import FER2013_LABELS

    if cache.is_file():
        z = np.load(cache)
        if "names" in z:
            return FaceArrays(z["images"], z["labels"], FER2013_LABELS, names=z["names"].tolist(),
                              no_face=z["no_face"])
    from fer.detection import FaceDetector
    from fer.evaluate import detecting_reader, load_eval_data

    faces, _ = load_eval_data(wild, "PrivateTest", FER2013_LABELS, detecting_reader(FaceDetector()))
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, images=faces.images, labels=faces.labels, names=np.array(faces.names),
             no_face=faces.no_face)
    return faces


def selection_domains(wild: Path) -> dict:
    """The selection data, by yardstick domain, in FER2013_LABELS: FER-2013 PublicTest, FER+
    PublicTest (the seven shared classes) and the wild dev photos' crops."""
    from fer.commands.compare import DOMAINS
    from fer.data.locations import dataset_dir
    from fer.evaluate import load_eval_data
    from fer.labels import FER2013_LABELS

    return dict(zip(DOMAINS, (
        load_eval_data(dataset_dir("fer2013"), "PublicTest", FER2013_LABELS)[0],
        load_eval_data(dataset_dir("ferplus"), "PublicTest", FER2013_LABELS)[0],
        wild_crops(wild),
    )))


def figures(report) -> dict:
    """One domain's cell of a table row."""
    return {"accuracy": round(report.accuracy, 4), "macro_f1": round(report.macro_f1, 4), "n": report.n}


def main(argv: list[str] | None = None) -> int:
    import torch

    from fer.classifier import EmotionClassifier
    from fer.commands.compare import domain_report, select_default
    from fer.data.locations import dataset_dir
    from fer.evaluate import predictions_report
    from fer.labels import FER2013_LABELS
    from fer.models.heads import blend_logits
    from fer.models.state import load_model
    from fer.train import predict_logits
    from fer.weights import DEFAULT_WEIGHTS, ModelCard

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", help="a joint training folder (best.safetensors, best.json)")
    ap.add_argument("--grid", type=float, nargs="+", default=[0.0, 0.2, 0.35, 0.5, 0.65, 0.8, 0.9, 1.0])
    ap.add_argument("--default", default=DEFAULT_WEIGHTS, help="the model a W must not lose to (the rule)")
    ap.add_argument("--wild", default=str(dataset_dir("wild")))
    ap.add_argument("--json", help="write the table here")
    args = ap.parse_args(argv)
    run = Path(args.run)
    card = ModelCard.read(run / "best.json")
    heads = tuple(card.training["recipe"]["heads"])
    model = load_model(card.architecture, sum(heads), run / "best.safetensors")
    torch.set_num_threads(torch.get_num_threads())

    domains = selection_domains(Path(args.wild))

    def scored(reports) -> dict:
        return {d: figures(r) for d, r in reports.items()}

    base = EmotionClassifier(args.default)
    rows = [{"model": args.default, **scored({d: domain_report(base, f, seven=True) for d, f in domains.items()})}]
    print(json.dumps(rows[0]), flush=True)
    cpu = torch.device("cpu")
    z = {d: torch.from_numpy(predict_logits(model, f.images, card.mean, card.std, cpu)) for d, f in domains.items()}
    for w in args.grid:
        preds = {d: blend_logits(z[d], heads, w).argmax(1).numpy() for d in domains}
        row = {"model": f"blend:{w}", "weight_fer2013_head": w,
               **scored({d: predictions_report(f, FER2013_LABELS, preds[d]) for d, f in domains.items()})}
        rows.append(row)
        print(json.dumps(row), flush=True)
    blends = [r for r in rows if "weight_fer2013_head" in r]
    selection = select_default(blends + rows[:1], args.default)
    chosen = next((r for r in blends if r["model"] == selection["winner"]), None)
    print(json.dumps({"chosen": selection["winner"], "eligible": selection["eligible"],
                      "rule": selection["rule"].replace("PrivateTest", "PublicTest")}))
    if chosen is None:
        print(f"no W is eligible: every blend loses more than a point to {args.default} somewhere", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "chosen": chosen, "selection": selection}, indent=1))
    return 0 if chosen is not None else 1


if __name__ == "__main__":
    raise SystemExit(main())
