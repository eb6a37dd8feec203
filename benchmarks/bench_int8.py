"""Per-face cost of a classifier's int8 graph against its float graph, in one run (issue 21.3):
batch 1, one thread, one view, each through `EmotionClassifier` as the runtime opens it; the two
take turns in rounds so that a change in the machine's load hits both alike.

    .venv/bin/python benchmarks/bench_int8.py [--weights joint_resnet_m] [--faces 500] \
        [--rounds 10] [--json OUT]

`python -m fer publish NAME --onnx-only` writes the int8 graph and its parity into the card.
Take the figures with nothing else running; the CPU's int8 instructions (VNNI / AMX, or AVX2
only) decide most of it, so the JSON names the CPU.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def per_face_ms(clf, x: np.ndarray) -> float:
    start = time.perf_counter()
    for face in x:
        clf.run(face[None])
    return 1e3 * (time.perf_counter() - start) / len(x)


def main(argv: list[str] | None = None) -> int:
    from benchmarks.pipeline_machine import cpu_int_flags, cpu_model
    from fer.classifier import EmotionClassifier
    from fer.data.locations import dataset_dir
    from fer.evaluate import load_eval_data
    from fer.labels import FER2013_LABELS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default="joint_resnet_m", help="a model whose card has an int8 graph")
    ap.add_argument("--faces", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    faces = load_eval_data(str(dataset_dir("fer2013")), "PublicTest", FER2013_LABELS)[0].images[: args.faces]
    sessions = {p: EmotionClassifier(args.weights, backend="onnx", threads=1, precision=p) for p in ("float", "int8")}
    x = sessions["float"].preprocess(faces)
    for s in sessions.values():  # warm-up
        per_face_ms(s, x[:50])
    times: dict[str, list[float]] = {k: [] for k in sessions}
    for _ in range(args.rounds):
        for name, s in sessions.items():
            times[name].append(per_face_ms(s, x))
    med = {k: float(np.median(v)) for k, v in times.items()}
    report = {"cpu": cpu_model(), "cpu_int_flags": cpu_int_flags(), "faces": len(x), "rounds": args.rounds,
              "threads": 1, "batch": 1, "weights": sessions["float"].weights_path.name,
              "parity": sessions["int8"].card.int8.to_dict()["parity"],
              "ms_per_face_median": {k: round(v, 3) for k, v in med.items()},
              "ms_per_face_rounds": {k: [round(t, 3) for t in v] for k, v in times.items()},
              "int8_share_of_float": round(med["int8"] / med["float"], 3)}
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
