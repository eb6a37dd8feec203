"""How much glasses cost a model: FER-2013 PrivateTest as it is, and with glasses drawn on.

Run: python benchmarks/glasses_robustness.py [--weights NAME ...] [--json FILE]
FER-2013 has few faces in glasses, while interview candidates often wear them. Each test face
gets the training degradation's glasses (`fer.data.augment.eyewear`, seed 0: thin frames, a third
of them sunglasses, on the template's eyes), and the script prints accuracy with and without,
and how many answers change. The glasses come from the same generator that `--degrade` trains
with, so a model trained with it is measured on its own kind of glasses: a figure to compare
models by, not a measure of real eyewear (the wild photos' men in glasses are that).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing


def with_glasses(images, seed: int = 0):
    """(N, 48, 48) uint8 grey faces with glasses drawn on (needs torch: the training extra)."""
    import numpy as np
    import torch

    from fer.data.augment import eyewear

    x = torch.from_numpy(images.astype(np.float32) / 255)[:, None]
    return (eyewear(x, torch.Generator().manual_seed(seed))[:, 0].numpy() * 255).round().astype(np.uint8)


def main(argv: list[str] | None = None) -> int:
    from fer.classifier import EmotionClassifier
    from fer.data.datasets import load_fer2013_folder
    from fer.data.locations import dataset_dir
    from fer.weights import DEFAULT_WEIGHTS

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", nargs="+", default=[DEFAULT_WEIGHTS], help="names in weights/")
    ap.add_argument("--data", default=str(dataset_dir("fer2013")))
    ap.add_argument("--json", help="write the figures here (default: print only)")
    args = ap.parse_args(argv)

    faces = load_fer2013_folder(args.data, "PrivateTest")
    glasses = with_glasses(faces.images)
    rows = []
    for name in args.weights:
        clf = EmotionClassifier(name)
        plain = clf.predict_proba(faces.images)[:, :7].argmax(1)  # an 8-class model: its 7 shared classes
        worn = clf.predict_proba(glasses)[:, :7].argmax(1)
        rows.append({"weights": name, "n": len(faces), "accuracy": float((plain == faces.labels).mean()),
                     "accuracy_with_glasses": float((worn == faces.labels).mean()),
                     "changed": float((plain != worn).mean())})
        r = rows[-1]
        print(f"{name}: {r['accuracy']:.1%} -> {r['accuracy_with_glasses']:.1%} with glasses "
              f"({r['changed']:.1%} of answers change)")
    if args.json:
        Path(args.json).write_text(json.dumps({"data": "FER-2013 PrivateTest", "seed": 0, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
