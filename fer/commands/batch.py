"""`python -m fer batch IN_DIR --out OUT_DIR`: every video of a folder, in parallel, resumable.

Each video gets exactly what `fer video` writes (in OUT_DIR/<file name>/); OUT_DIR/summary.csv has
one row per video and OUT_DIR/failures.csv the videos that could not be analysed (they fail alone).
Run it again to resume: finished videos are skipped, failed ones retried. --engine ray runs one Ray
task per video, locally or on a cluster (--address). Exit status 0, or 1 when any video failed."""

from __future__ import annotations

import argparse

HELP = "analyse a folder of videos in parallel (process pool or Ray), resumable, one summary.csv"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from fer.batch import ENGINES
    from fer.commands import video

    video.add_arguments(p)  # the same analysis options as `fer video`, with the same defaults
    p.add_argument("--engine", choices=ENGINES, default="local",
                   help="local: a process pool on this machine (default); ray: one Ray task per video")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="videos analysed at once (default: cores / threads per video; with --address, "
                        "the cluster decides)")
    p.add_argument("--address", default=None, metavar="HOST:PORT",
                   help="with --engine ray: join this running Ray cluster (e.g. one started with "
                        "'ray start --head') instead of starting a local instance")


def run(args) -> int:
    import logging
    import sys
    from pathlib import Path

    from tqdm import tqdm

    from fer.batch import plan, run_batch
    from fer.commands.video import settings_from

    if args.address and args.engine != "ray":
        raise ValueError("--address needs --engine ray")
    settings = settings_from(args)  # the same typed settings as `fer video`
    tasks = plan(args.input, args.out, settings, args.annotate)  # fails fast on a missing or empty folder
    todo = sum(not t.done for t in tasks)
    print(f"{len(tasks)} videos in {args.input}: {len(tasks) - todo} already done, {todo} to analyse "
          f"(engine {args.engine})")
    logging.getLogger("ray").setLevel(logging.WARNING)
    bar = tqdm(total=todo, unit="video", dynamic_ncols=True, file=sys.stderr)

    def on_done(outcome, n, total):
        status = f"done in {outcome.seconds:.1f} s" if outcome.ok else f"FAILED: {outcome.error}"
        bar.write(f"{outcome.video}: {status}")
        bar.update(1)

    try:
        report = run_batch(args.input, args.out, settings, args.engine, args.workers, args.address, on_done,
                           args.annotate)
    finally:
        bar.close()
    out = Path(args.out)
    print(f"{len(report.analysed)} analysed, {len(report.skipped)} skipped (done before), "
          f"{len(report.failed)} failed; wrote {out / 'summary.csv'} and {out / 'failures.csv'}")
    return 1 if report.failed else 0
