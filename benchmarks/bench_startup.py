"""Start-up and memory of the runtime install (issue 14.5), beside the torch runtime it replaced.

    python benchmarks/bench_startup.py                 # full: 5 cold starts each, 600 streamed frames
    python benchmarks/bench_startup.py --quick         # 1 cold start each, 60 frames (a smoke run)
    python benchmarks/bench_startup.py --before d662f32  # also measure that commit (torch runtime)

1. Runtime venv size: a fresh venv in /tmp built from requirements.txt (the app's runtime, what
   Streamlit Cloud installs), measured as `du` does, with the largest packages named; and one
   with pyproject.toml's dependencies only (the library and CLI, no app). The venvs are kept
   and reused while their requirements are unchanged (`--fresh` rebuilds them).
2. In that venv, each figure from fresh processes (so every start is cold for Python, while the
   OS file cache is warm, as on a server that has run before):
   - import: `python -c "import fer.recognizer, fer.pipeline"` minus a bare `python -c pass`;
     `python -m fer --help` (the CLI's start, which the old CLI has too);
   - first photo result: `python -m fer analyze photo.jpg` from start to exit (the issue's
     "cold process"), and the same split into import / model load / first analysis in-process;
   - resident memory (VmRSS): idle after the imports, with both models (MTCNN + classifier)
     loaded and warmed up, and the peak while streaming frames of a real clip through the live
     pipeline (`EmotionPipeline`, detection every 3rd frame); the app page in AppTest after a
     photo upload; and the app's live path as it runs, a worker process per webcam stream
     (`fer.live.worker`) fed real frames at ~30 fps, its peak resident memory sampled.
`--before REF` extracts REF with `git archive` into /tmp and runs the same probes on it with
the dev venv's Python (it has torch), so "before" figures come from the same machine and run.
The issue's own "today" figures are kept in the JSON as `issue_before` for reference.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT.parent / "shared" / "data" / "clips" / "fer_test_clip.mp4"
ISSUE_BEFORE = {"venv_mb": 5.5 * 1024, "rss_models_loaded_mb": 1.04 * 1024, "first_photo_s": 3.9}
TARGETS = {"venv_mb": 500, "rss_models_loaded_mb": 400, "first_photo_s": 2.0}

# Runs in a fresh interpreter (cwd = the tree measured): the in-process split and memory.
PROBE = r"""
import json, sys, time
t0 = time.perf_counter()

def rss_mb(key="VmRSS"):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024

import numpy as np
from fer import EmotionPipeline, EmotionRecognizer, PipelineConfig, load_image
t_import = time.perf_counter()
rss_idle = rss_mb()
rec = EmotionRecognizer()
t_load = time.perf_counter()
faces = rec.analyze(load_image(sys.argv[1]))
t_first = time.perf_counter()
rss_loaded = rss_mb()
out = {"import_s": t_import - t0, "load_s": t_load - t_import, "first_analyze_s": t_first - t_load,
       "labels": [f.label for f in faces], "rss_idle_mb": rss_idle, "rss_models_loaded_mb": rss_loaded}
n = int(sys.argv[3])
if n and sys.argv[2]:
    import cv2
    cap, frames = cv2.VideoCapture(sys.argv[2]), []
    while len(frames) < 300:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    pipe = EmotionPipeline(rec, PipelineConfig())
    peak, t = 0.0, time.perf_counter()
    for i in range(n):
        pipe.process(frames[i % len(frames)], i / 30.0)
        peak = max(peak, rss_mb())
    out.update(stream_frames=n, stream_fps=n / (time.perf_counter() - t), rss_streaming_peak_mb=peak,
               rss_streaming_end_mb=rss_mb(), frame_size=list(frames[0].shape[1::-1]))
out["torch_loaded"] = "torch" in sys.modules
print("@@" + json.dumps(out))
"""

APP_PROBE = r"""
import json, sys
from unittest import mock
from streamlit.testing.v1 import AppTest

def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

with mock.patch("streamlit_webrtc.component.get_this_session_info", return_value=None):
    at = AppTest.from_file("streamlit_app.py", default_timeout=300)
    at.run()
    at.file_uploader(key="photo_upload").set_value(("a.jpg", open(sys.argv[1], "rb").read(), "image/jpeg"))
    at.run()
print("@@" + json.dumps({"rss_app_page_photo_mb": rss_mb(), "exception": bool(at.exception),
                         "torch_loaded": "torch" in sys.modules}))
"""

# The app's live path: each webcam stream is analysed by a worker process of its own
# (fer.live.worker); stream real frames at ~30 fps and sample both processes' memory.
LIVE_PROBE = r"""
import json, sys, time
import cv2

def rss_mb(pid="self"):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

from fer.live.worker import AnalyserSpec, AnalysisWorker
from fer.weights import DEFAULT_WEIGHTS
cap, frames = cv2.VideoCapture(sys.argv[1]), []
while len(frames) < 300:
    ok, bgr = cap.read()
    if not ok:
        break
    frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
worker = AnalysisWorker(AnalyserSpec(weights=DEFAULT_WEIGHTS))
pid = worker._proc.pid  # the worker process (a benchmark may look inside)
ready = rss_mb(pid)
peak, results, t0 = 0.0, 0, time.perf_counter()
for i in range(int(sys.argv[2])):
    worker.submit(frames[i % len(frames)], time.monotonic())
    time.sleep(1 / 30)
    peak = max(peak, rss_mb(pid))
analysed = worker.latest.seq if worker.latest else 0
out = {"rss_live_worker_ready_mb": ready, "rss_live_worker_peak_mb": peak, "rss_live_server_mb": rss_mb(),
       "live_frames_sent": int(sys.argv[2]), "live_last_analysed_seq": analysed}
worker.close()
print("@@" + json.dumps(out))
"""


def disk_mb(path: Path) -> float:
    """Disk usage as `du` counts it (allocated blocks, hard links once)."""
    seen, total = set(), 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            st = os.lstat(os.path.join(dirpath, name))
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total / 2**20


def runtime_venv(name: str, requirements: list[str], fresh: bool) -> tuple[Path, float]:
    """A venv in /tmp with `requirements` installed; (its path, seconds the install took or 0)."""
    tag = hashlib.sha256("\n".join(requirements).encode()).hexdigest()[:12]
    venv = Path(tempfile.gettempdir()) / f"fer-{name}-venv-{tag}"
    if fresh and venv.exists():
        shutil.rmtree(venv)
    if (venv / ".complete").is_file():
        return venv, 0.0
    shutil.rmtree(venv, ignore_errors=True)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin/python"), "-m", "pip", "install", "-q", *requirements], check=True)
    (venv / ".complete").touch()
    return venv, time.perf_counter() - t


def app_requirements() -> list[str]:
    """requirements.txt's lines: the app's runtime, as Streamlit Cloud installs it."""
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return [ln.split("#", 1)[0].strip() for ln in lines if ln.split("#", 1)[0].strip()]


def library_requirements() -> list[str]:
    """pyproject.toml's runtime dependencies: what `pip install fer-toolkit` adds, without the app."""
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]


def bytecode_mb(path: Path) -> float:
    """The .pyc files pip compiled at install (uv, which Streamlit Cloud uses, leaves them out)."""
    return sum(p.stat().st_blocks * 512 for p in path.rglob("*.pyc")) / 2**20


def largest_packages(venv: Path, n: int = 12) -> dict[str, float]:
    (site,) = venv.glob("lib/python*/site-packages")
    sizes = {p.name: disk_mb(p) if p.is_dir() else p.stat().st_size / 2**20 for p in site.iterdir()}
    return {k: round(v, 1) for k, v in sorted(sizes.items(), key=lambda kv: -kv[1])[:n]}


def wall(cmd: list[str], cwd: Path, env: dict) -> float:
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - t
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr[-2000:]}")
    return elapsed


def probe(python: str, cwd: Path, env: dict, code: str, *args) -> dict:
    r = subprocess.run([python, "-c", code, *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=900)
    if r.returncode != 0:
        raise RuntimeError(f"probe failed in {cwd}: {r.stderr[-3000:]}")
    return json.loads([ln for ln in r.stdout.splitlines() if ln.startswith("@@")][-1][2:])


def median_of(runs: int, f) -> float:
    return round(statistics.median(f() for _ in range(runs)), 3)


def measure(python: str, tree: Path, photo: Path, runs: int, frames: int, app: bool) -> dict:
    """Every start-up and memory figure for one tree run by one interpreter."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "OMP_NUM_THREADS")}
    base = median_of(runs, lambda: wall([python, "-c", "pass"], tree, env))
    imp = median_of(runs, lambda: wall([python, "-c", "import fer.recognizer, fer.pipeline"], tree, env))
    out = {
        "python_start_s": base,
        "import_s": round(imp - base, 3),
        "cli_help_s": median_of(runs, lambda: wall([python, "-m", "fer", "--help"], tree, env)),
        "first_photo_s": median_of(runs, lambda: wall([python, "-m", "fer", "analyze", str(photo)], tree, env)),
    }
    clip = str(CLIP) if CLIP.is_file() else ""
    split = [probe(python, tree, env, PROBE, photo, clip, frames)]
    split += [probe(python, tree, env, PROBE, photo, "", 0) for _ in range(runs - 1)]
    for key in ("import_s", "load_s", "first_analyze_s", "rss_idle_mb", "rss_models_loaded_mb"):
        out[f"probe_{key}" if key.endswith("_s") else key] = round(statistics.median(s[key] for s in split), 3)
    first = split[0]
    for key in ("stream_frames", "stream_fps", "rss_streaming_peak_mb", "rss_streaming_end_mb", "frame_size"):
        if key in first:
            out[key] = round(first[key], 1) if isinstance(first[key], float) else first[key]
    out["labels"] = first["labels"]
    out["torch_loaded"] = any(s["torch_loaded"] for s in split)
    if app:
        try:
            out.update(probe(python, tree, env, APP_PROBE, photo))
        except RuntimeError as e:
            out["app_probe_error"] = str(e)[-500:]
    if clip and frames:
        try:
            out.update({k: round(v, 1) if isinstance(v, float) else v
                        for k, v in probe(python, tree, env, LIVE_PROBE, clip, frames).items()})
        except RuntimeError as e:  # trees without fer.live (the torch runtime) have no worker
            out["live_probe_error"] = str(e)[-300:]
    return out


def before_tree(ref: str) -> Path:
    dst = Path(tempfile.mkdtemp(prefix=f"fer-before-{ref[:10]}-"))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dst)], input=archive, check=True)
    return dst


def markdown(report: dict) -> str:
    now, before = report["runtime"], report.get("before", {})
    rows = [("runtime venv: requirements.txt, app included (MB on disk)", "venv_mb", 0),
            ("  of which .pyc compiled by pip (MB)", "venv_bytecode_mb", 0),
            ("library venv: pyproject dependencies, no app (MB)", "library_venv_mb", 0),
            ("  of which .pyc compiled by pip (MB)", "library_venv_bytecode_mb", 0), ("import fer.recognizer + pipeline (s)", "import_s", 2),
            ("`python -m fer --help` (s)", "cli_help_s", 2),
            ("first photo: `fer analyze` cold process (s)", "first_photo_s", 2),
            ("  of which import / load / analyze (s)", None, 2), ("RSS idle, after imports (MB)", "rss_idle_mb", 0),
            ("RSS both models loaded (MB)", "rss_models_loaded_mb", 0),
            ("RSS streaming, peak (MB)", "rss_streaming_peak_mb", 0),
            ("app page + photo in AppTest, RSS (MB)", "rss_app_page_photo_mb", 0),
            ("live worker process while streaming, peak RSS (MB)", "rss_live_worker_peak_mb", 0)]
    issue = report["issue_before"]

    def fmt(d, key, nd):
        if key is None:
            if "probe_import_s" not in d:
                return "-"
            return " / ".join(f"{d[k]:.2f}" for k in ("probe_import_s", "probe_load_s", "probe_first_analyze_s"))
        v = d.get(key)
        return "-" if v is None else f"{v:.{nd}f}"

    head = f"| figure | now (ONNX runtime) | before ({report.get('before_ref', '-')}) | issue's 'today' | target |"
    lines = [head, "|---|---|---|---|---|"]
    for label, key, nd in rows:
        lines.append(f"| {label} | {fmt(now, key, nd)} | {fmt(before, key, nd)} | "
                     f"{issue.get(key, '-') if key else '-'} | {TARGETS.get(key, '-') if key else '-'} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="1 start per figure, 60 streamed frames")
    ap.add_argument("--runs", type=int, help="cold starts per figure (default 5, 1 with --quick)")
    ap.add_argument("--frames", type=int, help="frames streamed (default 600, 60 with --quick)")
    ap.add_argument("--fresh", action="store_true", help="rebuild the runtime venv even if it exists")
    ap.add_argument("--before", metavar="REF", help="also measure this commit (e.g. the last torch runtime)")
    ap.add_argument("--no-app", action="store_true", help="skip the AppTest page probe")
    ap.add_argument("--json", help="report path (default benchmarks/results_startup[_quick].json)")
    args = ap.parse_args()
    runs = args.runs or (1 if args.quick else 5)
    frames = args.frames if args.frames is not None else (60 if args.quick else 600)
    args.json = args.json or str(ROOT / "benchmarks" / f"results_startup{'_quick' if args.quick else ''}.json")

    venv, install_s = runtime_venv("runtime", app_requirements(), args.fresh)
    lib_venv, _ = runtime_venv("library", library_requirements(), args.fresh)
    work = Path(tempfile.mkdtemp(prefix="fer-bench-startup-"))
    photo = work / "astronaut.jpg"
    from PIL import Image
    from skimage import data

    Image.fromarray(data.astronaut()).save(photo)

    report = {
        "machine": {"cpu_count": os.cpu_count(), "usable_cores": len(os.sched_getaffinity(0)),
                    "load_avg_1m": round(os.getloadavg()[0], 2), "python": platform.python_version(),
                    "platform": platform.platform(terse=True)},
        "quick": args.quick, "runs": runs, "frames": frames, "photo": "skimage.data.astronaut() as JPEG",
        "clip": str(CLIP) if CLIP.is_file() else None, "targets": TARGETS, "issue_before": ISSUE_BEFORE,
    }
    print(f"runtime venv: {venv} ({'built in %.0f s' % install_s if install_s else 'reused'})", file=sys.stderr)
    now = {"venv_mb": round(disk_mb(venv), 1), "venv_bytecode_mb": round(bytecode_mb(venv), 1),
           "venv_largest_mb": largest_packages(venv), "library_venv_mb": round(disk_mb(lib_venv), 1),
           "library_venv_bytecode_mb": round(bytecode_mb(lib_venv), 1)}
    now.update(measure(str(venv / "bin/python"), ROOT, photo, runs, frames, not args.no_app))
    report["runtime"] = now
    if args.before:
        tree = before_tree(args.before)
        print(f"before: {args.before} in {tree}, with {sys.executable}", file=sys.stderr)
        report["before_ref"] = args.before
        report["before"] = measure(sys.executable, tree, photo, runs, frames, not args.no_app)
        shutil.rmtree(tree, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
    report["load_avg_1m_end"] = round(os.getloadavg()[0], 2)
    print(markdown(report))
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
