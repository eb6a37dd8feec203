"""The live webcam as a user gets it: `bash .ci/app`, headless Chromium playing a real clip as its
camera, START; figures read from the browser alone (`live_harness`) over a window with the
machine otherwise idle, then with one core kept busy by another process. Writes JSON (default benchmarks/results_live.json).

    .venv/bin/python benchmarks/bench_live.py [--clip PATH] [--seconds 20] [--json OUT]

Take the figures with nothing else running: the point is what this machine gives one user.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.live_harness import (
    app_server,
    busy_core,
    clip_to_y4m,
    face_share_offline,
    live_page,
    measure,
    start_stream,
)
from benchmarks.pipeline_machine import cpu_model
from fer.data.locations import dataset_dir

DEFAULT_CLIP = dataset_dir("clips") / "fer_test_clip.mp4"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results_live.json")
    args = p.parse_args(argv)
    if not args.clip.is_file():
        print(f"clip not found: {args.clip}", file=sys.stderr)
        return 2
    report = {"clip": args.clip.name, "window_s": args.seconds, "cores": os.cpu_count(),
              "machine": platform.processor() or platform.machine(), "cpu": cpu_model(),
              "face_share_offline": round(face_share_offline(args.clip), 3)}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        y4m = work / "camera.y4m"
        camera = clip_to_y4m(args.clip, y4m)
        t0 = time.monotonic()
        with app_server(work) as (url, _log), live_page(url, y4m, work / "profile") as page:
            start_stream(page, camera)
            report["start_to_first_analyses_s"] = round(time.monotonic() - t0, 1)
            page.wait_for_timeout(3_000)
            report["idle"] = measure(page, camera, args.seconds).to_dict()
            print("idle", report["idle"])
            with busy_core():
                page.wait_for_timeout(3_000)
                report["one_core_busy"] = measure(page, camera, args.seconds).to_dict()
            print("one core busy", report["one_core_busy"])
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
