"""Measure the live pipeline's speed: frames/s, p50/p95 latency, time per stage, classifier
ms per face, resident memory; optionally a soak run with faces coming and going. Prints a
Markdown table (with the machine it ran on) and writes JSON."""

from __future__ import annotations

import argparse

HELP = "benchmark the live pipeline: frames/s, latency, time per stage, memory"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--frames", type=int, default=300, help="timed frames per setting (default 300)")
    p.add_argument("--warmup", type=int, default=30, help="untimed frames before each setting (default 30)")
    p.add_argument("--sizes", default="640x480,1280x720", help="frame sizes, e.g. 640x480,1280x720")
    p.add_argument("--faces", default="1,4", help="faces per frame, e.g. 1,4")
    p.add_argument("--detect-every", type=int, default=3, help="run the face detector on every k-th frame")
    p.add_argument("--no-compare", action="store_true",
                   help="only the defaults: skip detect-every-frame, detect at 320 px and the torch classifier")
    p.add_argument("--source", default="auto", choices=["auto", "fer2013", "astronaut"],
                   help="faces in the scenes: FER-2013 test faces where the data is, else the astronaut photo")
    p.add_argument("--soak", type=int, default=0, metavar="N",
                   help="also run N frames with faces appearing and leaving; reports tracks and memory growth")
    p.add_argument("--threads", type=int, default=None,
                   help="PyTorch and ONNX Runtime threads (default: theirs); 1 is far faster when other work shares the CPU")
    p.add_argument("--json", metavar="OUT", help="write the full report as JSON here")


def run(args) -> int:
    import json
    import sys
    from pathlib import Path

    from fer.bench import default_specs, parse_sizes, run_benchmark

    if args.frames < 1 or args.warmup < 0 or args.soak < 0 or args.detect_every < 1:
        raise ValueError("--frames and --detect-every must be at least 1; --warmup and --soak at least 0")
    try:
        faces = [int(v) for v in args.faces.split(",")]
    except ValueError:
        raise ValueError(f"--faces {args.faces!r} is not a list of numbers, e.g. 1,4") from None
    if any(n < 0 or n > 16 for n in faces):
        raise ValueError("--faces takes 0 to 16 faces per frame")
    specs = default_specs(parse_sizes(args.sizes), faces, args.detect_every, compare=not args.no_compare)
    report = run_benchmark(specs, args.frames, args.warmup, args.soak, args.source,
                           threads=args.threads, progress=lambda msg: print(f"... {msg}", file=sys.stderr, flush=True))
    print(report.to_markdown())
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report.to_dict(), indent=2) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0
