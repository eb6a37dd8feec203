"""Quantise a shipped classifier to int8 (ONNX Runtime, static) and check parity with the float model.

    .venv/bin/python scripts/quantize_int8.py fer2013_resnet_m --out /tmp/fer2013_resnet_m.int8.onnx

Calibration: 512 FER-2013 Training faces (seed 0); parity on FER-2013 PublicTest (the selection
split): top-1 agreement with the float model (target >= 99%) and the accuracy change (target
within 0.3 points). Prints one JSON line; exit status 1 when parity misses either target. The
runtime does not load int8 graphs yet (fer.classifier runs the card's float graph); this makes
and checks one. No speed figures here: measure with the benchmarks on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

AGREEMENT_MIN, DROP_MAX = 0.99, 0.003


def main(argv: list[str] | None = None) -> int:
    from fer.data.locations import dataset_dir
    from fer.evaluate import load_eval_data
    from fer.labels import FER2013_LABELS
    from fer.models.quantize import parity, quantize_int8
    from fer.models.state import load_model
    from fer.weights import ModelCard, card_path, weights_path

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights", help="a name in weights/ or a .safetensors path (7-class)")
    ap.add_argument("--out", required=True, help="the int8 .onnx to write")
    ap.add_argument("--data", default=str(dataset_dir("fer2013")))
    ap.add_argument("--method", default="percentile", choices=["minmax", "percentile", "entropy"])
    args = ap.parse_args(argv)
    path = weights_path(args.weights)
    card = ModelCard.read(card_path(path))
    if tuple(card.labels) != FER2013_LABELS:
        raise SystemExit(f"{path.name} is not a 7-class FER-2013 model")
    model = load_model(card.architecture, len(card.labels), path)
    train = load_eval_data(args.data, "Training", FER2013_LABELS)[0]
    calib = train.images[np.random.default_rng(0).choice(len(train), 512, replace=False)]
    out = quantize_int8(model, calib, args.out, card.mean, card.std, method=args.method)
    val = load_eval_data(args.data, "PublicTest", FER2013_LABELS)[0]
    p = parity(model, out, val.images, val.labels, card.mean, card.std)
    ok = p.top1_agreement >= AGREEMENT_MIN and abs(p.accuracy_drop) <= DROP_MAX
    print(json.dumps({"weights": path.name, "int8": str(out), "bytes": Path(out).stat().st_size, **asdict(p),
                      "accuracy_drop": p.accuracy_drop, "parity_ok": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
