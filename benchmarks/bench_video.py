"""Video analysis speed: frames/s for every-frame analysis of a 640x480, 30 fps video with one real face.

Run: python benchmarks/bench_video.py [--seconds 10] [--detect-every 3] [--detect-side 320]
     [--min-face 20] [--threads N]
The target is real time (>= 30 frames/s: a 60 s video in <= 60 s on a 2-core CPU). Besides the
end-to-end rate it times each stage on its own (decode, detect, align+classify, the rest), in
wall-clock and CPU time: on a machine shared with other work, CPU time per frame is the better
predictor of the rate on an idle one.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing


def make_video(path: Path, seconds: float, fps: int = 30, size=(640, 480)) -> Path:
    """The astronaut's face (a real photo) drifting over a real background at 30 fps."""
    from skimage import data

    photo = data.astronaut()
    face = cv2.resize(photo[10:230, 140:340], (160, 176))
    w, h = size
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    background = cv2.resize(data.coffee(), size)[..., ::-1] // 2  # a real, busy background, no face
    for i in range(int(seconds * fps)):
        frame = background.copy()
        x = int(w / 2 - 80 + 120 * np.sin(i / fps))
        y = int(h / 2 - 88 + 40 * np.sin(i / (2 * fps)))
        frame[y:y + 176, x:x + 160] = face[..., ::-1]
        out.write(frame)
    out.release()
    return path


class Clock:
    def __init__(self):
        self.wall = self.cpu = 0.0

    def __enter__(self):
        self._w, self._c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall += time.perf_counter() - self._w
        self.cpu += time.process_time() - self._c


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0, help="video length (60 for the full target)")
    ap.add_argument("--detect-every", type=int, default=3, help="1 = MTCNN on every frame (exact)")
    ap.add_argument("--detect-side", type=int, default=320, help="longer side MTCNN sees, in pixels (CLI default)")
    ap.add_argument("--min-face", type=int, default=20)
    ap.add_argument("--threads", type=int, default=None, help="threads per model call (default: fer.runtime's)")
    args = ap.parse_args()

    from fer import runtime

    runtime.set_threads(args.threads)
    from fer.analysis import AnalysisOptions, analyze_video
    from fer.pipeline import PipelineConfig
    from fer.recognizer import EmotionRecognizer
    from fer.video import iter_frames

    print(f"cpus={os.cpu_count()} threads={runtime.threads()} load_avg={os.getloadavg()[0]:.1f}")
    recognizer = EmotionRecognizer(min_face_size=args.min_face, detect_max_side=args.detect_side)
    with tempfile.TemporaryDirectory() as tmp:
        path = make_video(Path(tmp) / "bench.mp4", args.seconds)
        n = int(args.seconds * 30)
        recognizer.analyze(next(iter_frames(path)).rgb)  # warm-up

        total = Clock()
        with total:
            result = analyze_video(path, recognizer, AnalysisOptions(pipeline=PipelineConfig(detect_every=args.detect_every)))
        faces = result.timeline["track_id"].notna().sum()

        decode, detect, classify = Clock(), Clock(), Clock()
        frames = iter_frames(path)
        k = 0
        while True:
            with decode:
                frame = next(frames, None)
            if frame is None:
                break
            if k % args.detect_every == 0:
                with detect:
                    found = recognizer.detect(frame.rgb)
            with classify:
                recognizer.classify(frame.rgb, found)
            k += 1

    rest_w = max(0.0, total.wall - decode.wall - detect.wall - classify.wall)
    rest_c = max(0.0, total.cpu - decode.cpu - detect.cpu - classify.cpu)
    print(f"video: {args.seconds:g} s, 640x480, 30 fps, {n} frames; detect_every={args.detect_every}, "
          f"detect_side={args.detect_side}, min_face={args.min_face}; face found in {faces}/{n} frames")
    print(f"end to end: {n / total.wall:.1f} frames/s wall ({total.wall:.1f} s; a 60 s video would take "
          f"{60 * 30 / (n / total.wall):.0f} s), {1000 * total.cpu / n:.1f} ms CPU per frame "
          f"(= {n / total.cpu:.1f} frames/s per busy core)")
    print(f"{'stage':<18}{'wall ms/frame':>14}{'CPU ms/frame':>14}")
    stages = [("decode", decode.wall, decode.cpu), ("detect (MTCNN)", detect.wall, detect.cpu),
              ("align+classify", classify.wall, classify.cpu), ("track/smooth/rest", rest_w, rest_c)]
    for name, w, c in stages:
        print(f"{name:<18}{1000 * w / n:>14.1f}{1000 * c / n:>14.1f}")
    print("target: >= 30 frames/s;", "MET" if n / total.wall >= 30 else "NOT MET", "on this machine now")


if __name__ == "__main__":
    main()
