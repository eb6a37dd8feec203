"""Would wild-style labels move the wild photos? A diagnostic; it never makes a shipped model.

The in-the-wild dev photos are a check, not training data, and no shipped model learns from
them. This script asks what the shipped networks already know about those faces. It fits a
logistic regression on a frozen network's pooled features, or only on its 7 logits (a new
decision rule over the same evidence), and scores it by 5-fold cross-validation. Every person's
photos (the LFW name or the film actor in the file name) stay on one side of each split, and the
regularisation is chosen inside each training part. A photo without a found face counts as wrong,
as in `fer evaluate --detect`.

If a probe on frozen features reads the photos far better than the shipped head, the network has
already seen what it needs. What differs is how those photos were labelled, so the gap is a
question of training labels rather than of network capacity. The probe also learns the photos'
class mix (300 neutral and 300 happy, 13 fear), which a model trained elsewhere cannot know.

    .venv/bin/python scripts/wild_probe.py [--models joint_resnet_m ferplus_resnet_m] [--json F]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

C_GRID = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)


def person_of(file_name: str) -> str:
    """'happy/Al_Gore_0002.jpg' -> 'Al_Gore'; 'sad/Dileep_71.jpg' -> 'Dileep'."""
    return re.sub(r"_\d+$", "", Path(file_name).stem)


def frozen_outputs(name: str, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(pooled features (N, D), logits in FER2013_LABELS order (N, 7)) of a shipped model."""
    import torch

    from fer.labels import FER2013_LABELS
    from fer.models.state import load_model
    from fer.train import predict_logits
    from fer.weights import card_of, weights_path

    card = card_of(name)
    model = load_model(card.architecture, len(card.labels), weights_path(name))
    final = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
    seen: list[torch.Tensor] = []
    hook = final.register_forward_hook(lambda _m, inputs, _out: seen.append(inputs[0]))
    logits = predict_logits(model, images, card.mean, card.std, torch.device("cpu"))
    hook.remove()
    seven = [card.labels.index(label) for label in FER2013_LABELS]
    return torch.cat(seen).numpy(), logits[:, seven]


def _fit(x: np.ndarray, y: np.ndarray, c: float):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000)).fit(x, y)


def probe_predictions(x: np.ndarray, y: np.ndarray, groups: list[str], folds: int = 5,
                      c_grid: tuple[float, ...] = C_GRID) -> tuple[np.ndarray, list[float]]:
    """Out-of-fold predictions of a logistic regression, no person in both the fitting and the
    scored part; C picked per outer fold by an inner person-disjoint split. Returns the predictions
    and the C of each fold."""
    from sklearn.model_selection import GroupKFold

    groups_a = np.asarray(groups)
    pred, chosen = np.empty(len(y), np.int64), []
    for train, test in GroupKFold(folds).split(x, y, groups_a):
        inner = list(GroupKFold(folds - 1).split(x[train], y[train], groups_a[train]))
        hits = [sum((_fit(x[train][a], y[train][a], c).predict(x[train][b]) == y[train][b]).sum()
                    for a, b in inner) for c in c_grid]
        c = c_grid[int(np.argmax(hits))]
        chosen.append(c)
        pred[test] = _fit(x[train], y[train], c).predict(x[test])
    return pred, chosen


def main(argv: list[str] | None = None) -> int:
    from joint_heads import wild_crops

    from fer.data.locations import dataset_dir
    from fer.evaluate import predictions_report
    from fer.labels import FER2013_LABELS
    from fer.weights import DEFAULT_WEIGHTS, card_of

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=[DEFAULT_WEIGHTS, "ferplus_resnet_m"],
                    help="names in weights/ or .safetensors paths (with their card beside them)")
    ap.add_argument("--wild", default=str(dataset_dir("wild")))
    ap.add_argument("--json", help="write the table here")
    args = ap.parse_args(argv)

    faces = wild_crops(Path(args.wild))
    groups = [person_of(n) for n in faces.names]
    print(f"{len(faces.images)} faces of {len(set(groups))} people, {len(faces.no_face)} photos without a face",
          flush=True)
    rows = []

    def add(model: str, reads: str, pred: np.ndarray, cs: list[float] | None = None) -> None:
        r = predictions_report(faces, FER2013_LABELS, pred)
        rows.append({"model": model, "reads": reads, "accuracy": round(r.accuracy, 4),
                     "macro_f1": round(r.macro_f1, 4), "n": r.n, "C_per_fold": cs})
        print(json.dumps(rows[-1]), flush=True)

    features, names = [], [card_of(m).name for m in args.models]
    for model, name in zip(args.models, names):
        feats, logits = frozen_outputs(model, faces.images)
        features.append(feats)
        add(name, "shipped head", logits.argmax(1))
        add(name, "probe on its 7 logits", *probe_predictions(logits, faces.labels, groups))
        add(name, "probe on its features", *probe_predictions(feats, faces.labels, groups))
    if len(features) > 1:
        add(" + ".join(names), "probe on their features",
            *probe_predictions(np.hstack(features), faces.labels, groups))
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "people": len(set(groups))}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
