"""Face detector speed: facenet-pytorch's MTCNN (torch) and the same MTCNN on ONNX Runtime
(`fer.mtcnn`), side by side in one run, on real clip frames at 640 and 320 px detection side.

    .venv/bin/python benchmarks/bench_detector.py [--quick] [--frames 60] [--sides 640,320]
        [--threads N] [--json benchmarks/results_detector.json]

Both backends time `FaceDetector.detect` (downscale, cascade, boxes back to frame pixels) on the
same frames, alternating frame by frame so that other work on the machine hits both alike; both
use `fer.runtime.threads()` threads. Prints ms/frame p50/p95 (wall) and mean CPU ms/frame, faces
found, and writes JSON. `--quick` (10 frames per clip, one warm-up) proves the script works;
take real figures on an idle machine without it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

BACKENDS = ("torch", "onnx")


def clip_frames(path: Path, n: int) -> list[np.ndarray]:
    """`n` RGB frames spread evenly over a video (PyAV)."""
    import av

    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    picks = np.linspace(0, len(frames) - 1, min(n, len(frames))).round().astype(int)
    return [frames[i] for i in picks]


def time_detect(detector, frame: np.ndarray) -> tuple[float, float, int]:
    """(wall ms, CPU ms, faces) of one `detect` call."""
    w, c = time.perf_counter(), time.process_time()
    faces = detector.detect(frame)
    return 1e3 * (time.perf_counter() - w), 1e3 * (time.process_time() - c), len(faces)


def summarise(wall: list[float], cpu: list[float], faces: list[int]) -> dict:
    return {"frames": len(wall), "p50_ms": float(np.percentile(wall, 50)),
            "p95_ms": float(np.percentile(wall, 95)), "mean_ms": float(np.mean(wall)),
            "cpu_ms_mean": float(np.mean(cpu)), "faces": int(sum(faces))}


def run(frames: list[np.ndarray], sides: list[int], warmup: int) -> list[dict]:
    from fer.detection import DetectorConfig, FaceDetector

    base = {b: FaceDetector(backend=b) for b in BACKENDS}
    rows = []
    for side in sides:
        dets = {b: d.with_config(DetectorConfig(max_side=side)) for b, d in base.items()}
        for b in BACKENDS:
            for frame in frames[:warmup]:
                dets[b].detect(frame)
        samples = {b: ([], [], []) for b in BACKENDS}
        for i, frame in enumerate(frames):
            order = BACKENDS if i % 2 == 0 else BACKENDS[::-1]  # neither always runs first
            for b in order:
                for store, value in zip(samples[b], time_detect(dets[b], frame)):
                    store.append(value)
        for b in BACKENDS:
            rows.append({"backend": b, "max_side": side, **summarise(*samples[b])})
        print(f"... {side} px done", file=sys.stderr, flush=True)
    return rows


def to_markdown(rows: list[dict]) -> str:
    lines = ["| detector | side px | frames | p50 ms | p95 ms | mean ms | CPU ms/frame | faces |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        name = "facenet-pytorch (torch)" if r["backend"] == "torch" else "fer.mtcnn (ONNX Runtime)"
        lines.append(f"| {name} | {r['max_side']} | {r['frames']} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | "
                     f"{r['mean_ms']:.1f} | {r['cpu_ms_mean']:.1f} | {r['faces']} |")
    by = {(r["backend"], r["max_side"]): r for r in rows}
    for side in sorted({r["max_side"] for r in rows}, reverse=True):
        t, o = by[("torch", side)], by[("onnx", side)]
        lines.append(f"\n{side} px: ONNX p50 is {t['p50_ms'] / o['p50_ms']:.2f}x faster than torch "
                     f"({t['p50_ms']:.1f} -> {o['p50_ms']:.1f} ms)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from fer.data.locations import dataset_dir

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="10 frames per clip, 1 warm-up: proves the script runs")
    p.add_argument("--frames", type=int, default=60, help="frames per clip (default 60)")
    p.add_argument("--sides", default="640,320", help="detection sides in px (default 640,320)")
    p.add_argument("--warmup", type=int, default=5, help="untimed frames per detector and side")
    p.add_argument("--clips", nargs="*", type=Path, default=None,
                   help="videos (default: the clips in ../shared/data/clips)")
    p.add_argument("--threads", type=int, default=None, help="threads per model call (default fer.runtime's)")
    p.add_argument("--json", type=Path, default=None,
                   help="output (default benchmarks/results_detector[_quick].json)")
    args = p.parse_args(argv)
    if args.quick:
        args.frames, args.warmup = 10, 1
    clips = args.clips or sorted(dataset_dir("clips").glob("*.mp4"))
    if not clips:
        print(f"no clips found in {dataset_dir('clips')}; pass --clips", file=sys.stderr)
        return 2

    from fer import runtime

    runtime.set_threads(args.threads)
    frames = [f for clip in clips for f in clip_frames(clip, args.frames)]
    sides = [int(s) for s in args.sides.split(",")]
    load_before = os.getloadavg()[0]
    rows = run(frames, sides, args.warmup)

    from benchmarks.pipeline_machine import machine_info

    report = {"benchmark": "detector", "quick": args.quick, "clips": [c.name for c in clips],
              "frames": len(frames), "frame_sizes": sorted({f"{f.shape[1]}x{f.shape[0]}" for f in frames}),
              "threads": runtime.threads(), "load_avg_1min_before": load_before,
              "machine": machine_info().__dict__, "results": rows}
    print(f"{len(frames)} frames from {', '.join(c.name for c in clips)}; threads={runtime.threads()}; "
          f"load avg {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    print(to_markdown(rows))
    out = args.json or ROOT / "benchmarks" / ("results_detector_quick.json" if args.quick else "results_detector.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
