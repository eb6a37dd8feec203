"""Measure the live pipeline's speed: frames/s, p50/p95 latency, time per stage, classifier
ms per face, `analyze` on a photo, resident memory; optionally a soak run with faces coming and
going. Prints a Markdown table (with the machine it ran on) and writes JSON with --json.

    python benchmarks/bench_pipeline.py [--quick] [--frames 300] [--sizes 640x480,1280x720]
        [--faces 1,4] [--detect-every 3] [--threads 1] [--soak 50000] [--json OUT]

`python -m fer bench` runs this file from a source checkout. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run from a checkout without installing

HELP = "benchmark the live pipeline: frames/s, latency, time per stage, memory (source checkout only)"
QUICK = {"frames": 10, "warmup": 2, "sizes": "640x480", "faces": "1", "classifier_repeats": 5, "photo_repeats": 3}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The benchmark's options, but not --threads: `fer`'s own --threads sets fer.runtime, and
    `main` below adds it for standalone runs, so there is one thread setting either way."""
    p.add_argument("--quick", action="store_true",
                   help="a few frames at 640x480 with 1 face, every row once: checks it runs, not a figure")
    p.add_argument("--frames", type=int, default=300, help="timed frames per setting (default 300)")
    p.add_argument("--warmup", type=int, default=30, help="untimed frames before each setting (default 30)")
    p.add_argument("--sizes", default="640x480,1280x720", help="frame sizes, e.g. 640x480,1280x720")
    p.add_argument("--faces", default="1,4", help="faces per frame, e.g. 1,4")
    p.add_argument("--detect-every", type=int, default=3, help="run the face detector on every k-th frame")
    p.add_argument("--no-compare", action="store_true",
                   help="only the defaults: skip detect-every-frame, detect at 320 px, the torch classifier "
                        "and no re-check")
    p.add_argument("--source", default="auto", choices=["auto", "fer2013", "astronaut"],
                   help="faces in the scenes: FER-2013 test faces where the data is, else the astronaut photo")
    p.add_argument("--soak", type=int, default=0, metavar="N",
                   help="also run N frames with faces appearing and leaving; reports tracks and memory growth")
    p.add_argument("--json", metavar="OUT", help="write the full report as JSON here")


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """'640x480,1280x720' -> [(640, 480), (1280, 720)]."""
    out = []
    for part in text.split(","):
        try:
            w, h = (int(v) for v in part.lower().strip().split("x"))
        except ValueError:
            raise ValueError(f"frame size {part!r} is not WIDTHxHEIGHT, e.g. 640x480") from None
        if w < 32 or h < 32:
            raise ValueError(f"frame size {part!r} is too small (at least 32x32)")
        out.append((w, h))
    return out


def parse_faces(text: str) -> list[int]:
    """'1,4' -> [1, 4]."""
    try:
        faces = [int(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(f"--faces {text!r} is not a list of numbers, e.g. 1,4") from None
    if any(n < 0 or n > 16 for n in faces):
        raise ValueError("--faces takes 0 to 16 faces per frame")
    return faces


def run(args) -> int:
    """Run with parsed options; bad values raise ValueError (`fer`'s CLI makes that exit 2)."""
    import json

    from benchmarks.pipeline_timing import default_specs, run_benchmark

    extra = {}
    if args.quick:
        args.frames, args.warmup, args.sizes, args.faces = (QUICK[k] for k in ("frames", "warmup", "sizes", "faces"))
        extra = {k: QUICK[k] for k in ("classifier_repeats", "photo_repeats")}
    if args.frames < 1 or args.warmup < 0 or args.soak < 0 or args.detect_every < 1:
        raise ValueError("--frames and --detect-every must be at least 1; --warmup and --soak at least 0")
    specs = default_specs(parse_sizes(args.sizes), parse_faces(args.faces), args.detect_every,
                          compare=not args.no_compare)
    report = run_benchmark(specs, args.frames, args.warmup, args.soak, args.source,
                           progress=lambda msg: print(f"... {msg}", file=sys.stderr, flush=True), **extra)
    print(report.to_markdown())
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report.to_dict(), indent=2) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    from fer import runtime

    p = argparse.ArgumentParser(prog="bench_pipeline.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="threads per model call (default: fer.runtime's choice; 1 on a 2-core machine)")
    args = p.parse_args(argv)
    try:
        runtime.set_threads(args.threads)
        return run(args)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
