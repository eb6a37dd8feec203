"""`fer batch` throughput: videos/hour from one folder of real clips with the local process pool
(1 and 2 workers) and Ray (1 and 2 workers), and what the measured cost per video means for a
platform analysing 10,000 one-minute interviews a month (on paper).

Run: python benchmarks/bench_batch.py [--copies 3] [--configs local:1,local:2,ray:1,ray:2] [--quick]
     [--json benchmarks/results_batch.json]
The folder holds `--copies` copies of each real clip in ../shared/data/clips (4.6 s one face;
10 s several faces). Each configuration starts from an empty output folder. Each video's wall
time splits into a fixed part (process start, model loading, writing files) and the analysis
(`analysis.elapsed_s` in its summary JSON), so the estimate for one-minute interviews scales only
the analysis, at the one-face clip's rate (an interview shows one person).
--quick: one copy, local:1 and ray:2, to check that the script works.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

# After the sys.path line above, so that a checkout's fer is the one imported.
from fer.data.locations import dataset_dir

CLIPS = dataset_dir("clips")
INTERVIEWS_PER_MONTH, INTERVIEW_S = 10_000, 60.0
HOURS_PER_MONTH = 730.0


def make_folder(folder: Path, copies: int) -> dict[str, float]:
    """Copies of every real clip; returns video name -> duration in seconds."""
    from fer.video import probe_video

    folder.mkdir(parents=True)
    durations = {}
    for clip in sorted(CLIPS.glob("*.mp4")):
        seconds = probe_video(clip).duration_s
        for i in range(copies):
            name = f"{clip.stem}_{i}.mp4"
            shutil.copy(clip, folder / name)
            durations[name] = seconds
    if not durations:
        raise SystemExit(f"no clips in {CLIPS}")
    return durations


def video_options():
    """`fer video`'s defaults, the settings every front end starts from."""
    from fer.analysis import AnalysisSettings

    return AnalysisSettings()


ONE_FACE = "fer_test_clip"


def split_cost(out: Path, outcomes, durations: dict[str, float]) -> tuple[float, float]:
    """(fixed seconds per video, analysis seconds per second of one-face video) from the videos' reports."""
    fixed, analysis, seconds = [], 0.0, 0.0
    for o in outcomes:
        stem = o.video.rsplit(".", 1)[0]
        elapsed = json.loads((out / o.video / f"{stem}_summary.json").read_text())["analysis"]["elapsed_s"]
        fixed.append(o.seconds - elapsed)
        if o.video.startswith(ONE_FACE):
            analysis += elapsed
            seconds += durations[o.video]
    return float(np.mean(fixed)), analysis / seconds if seconds else float("nan")


def run_config(engine: str, workers: int, folder: Path, out: Path, durations: dict[str, float]) -> dict:
    from fer.batch import run_batch

    start = time.perf_counter()
    report = run_batch(folder, out, video_options(), engine=engine, workers=workers)
    wall = time.perf_counter() - start
    ok = report.analysed
    video_s = sum(durations[o.video] for o in ok)
    fixed, per_s = split_cost(out, ok, durations)
    return {"engine": engine, "workers": workers, "videos": len(ok), "failed": len(report.failed),
            "video_seconds": round(video_s, 1), "wall_s": round(wall, 1),
            "videos_per_hour": round(len(ok) / wall * 3600, 1),
            "video_seconds_per_wall_second": round(video_s / wall, 3),
            "per_video_fixed_s": round(fixed, 2), "one_face_analysis_s_per_video_s": round(per_s, 3)}


def platform_estimate(row: dict) -> dict:
    """10,000 one-minute interviews a month from one configuration's measured cost per video."""
    per_video_s = row["per_video_fixed_s"] + row["one_face_analysis_s_per_video_s"] * INTERVIEW_S  # one worker's time
    worker_hours = INTERVIEWS_PER_MONTH * per_video_s / 3600
    machine_hours = worker_hours / row["workers"]  # this machine, its workers all busy
    return {"from": f"{row['engine']}:{row['workers']}", "one_interview_worker_s": round(per_video_s, 1),
            "worker_hours_per_month": round(worker_hours, 1),
            "hours_per_month_on_this_machine": round(machine_hours, 1),
            "share_of_month_on_this_machine": round(machine_hours / HOURS_PER_MONTH, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--copies", type=int, default=3, help="copies of each real clip in the folder")
    ap.add_argument("--configs", default="local:1,local:2,ray:1,ray:2", help="engine:workers, comma-separated")
    ap.add_argument("--quick", action="store_true", help="one copy, local:1 and ray:2")
    ap.add_argument("--json", default=str(ROOT / "benchmarks" / "results_batch.json"))
    args = ap.parse_args()
    copies, configs = (1, "local:1,ray:2") if args.quick else (args.copies, args.configs)
    rows = []
    with tempfile.TemporaryDirectory(prefix="fer_bench_batch_") as tmp:
        folder = Path(tmp) / "in"
        durations = make_folder(folder, copies)
        print(f"{len(durations)} videos, {sum(durations.values()):.1f} s of video in all")
        print(f"{'config':>9} {'videos':>6} {'wall s':>7} {'videos/h':>9} {'video s per s':>13} "
              f"{'fixed s/video':>13} {'analysis s/s':>12}")
        for cfg in configs.split(","):
            engine, workers = cfg.split(":")
            row = run_config(engine, int(workers), folder, Path(tmp) / f"out_{engine}_{workers}", durations)
            rows.append(row)
            print(f"{cfg:>9} {row['videos']:>6} {row['wall_s']:>7} {row['videos_per_hour']:>9} "
                  f"{row['video_seconds_per_wall_second']:>13} {row['per_video_fixed_s']:>13} "
                  f"{row['one_face_analysis_s_per_video_s']:>12}")
    best = max(rows, key=lambda r: r["video_seconds_per_wall_second"])
    estimate = platform_estimate(best)
    print(f"10,000 one-minute interviews a month, from {estimate['from']}: {estimate['one_interview_worker_s']} s "
          f"of one worker per interview, {estimate['worker_hours_per_month']} worker-hours a month, "
          f"{estimate['hours_per_month_on_this_machine']} h on this machine "
          f"({estimate['share_of_month_on_this_machine']:.0%} of the month)")
    result = {"benchmark": "batch", "clips": sorted(p.name for p in CLIPS.glob("*.mp4")), "copies": copies,
              "quick": args.quick, "cores": len(os.sched_getaffinity(0)), "cpu": platform.processor() or platform.machine(),
              "load_avg_1m": round(os.getloadavg()[0], 2), "configs": rows, "platform_estimate": estimate}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json} (load average {result['load_avg_1m']} on {result['cores']} cores)")


if __name__ == "__main__":
    main()
