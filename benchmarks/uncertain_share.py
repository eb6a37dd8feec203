"""How often the live path shows a face as 'uncertain' on the real clips of shared/data/clips.

Run: python benchmarks/uncertain_share.py [--quick] [--json docs/eval_uncertain_share_clips.json]
Every frame of each clip goes through `EmotionPipeline` with the default `PipelineConfig` (one
view, detection every 3rd frame, smoothing), as the live webcam runs it; a face-frame counts as
'uncertain' when its top smoothed probability is below `fer.labels.UNCERTAIN_BELOW` (the app's
default). The clips have no labels, so this is a figure to watch across model changes, not one
to tune the threshold against. --quick reads only the first 30 frames of each clip (to check
that the script works; its figures mean little).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

log = logging.getLogger("uncertain_share")


def main(argv: list[str] | None = None) -> int:
    from fer.data.locations import dataset_dir
    from fer.labels import UNCERTAIN_BELOW

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", default=str(dataset_dir("clips")), help="a folder of .mp4 clips")
    ap.add_argument("--weights", default=None, help="a name in weights/ (default model if unset)")
    ap.add_argument("--threshold", type=float, default=UNCERTAIN_BELOW)
    ap.add_argument("--quick", action="store_true", help="first 30 frames of each clip only")
    ap.add_argument("--json", help="write the figures here (default: print only)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    clips = sorted(Path(args.clips).glob("*.mp4"))
    if not clips:
        log.error("no .mp4 clips in %s (see shared/data/README.md)", args.clips)
        return 2
    from fer.evaluate import uncertain_share
    from fer.pipeline import EmotionPipeline, PipelineConfig
    from fer.recognizer import EmotionRecognizer
    from fer.video import iter_frames

    recognizer = EmotionRecognizer(args.weights)
    pipeline = EmotionPipeline(recognizer, PipelineConfig())
    rows = []
    for clip in clips:
        t0 = time.perf_counter()
        r = uncertain_share(pipeline, iter_frames(clip, max_frames=30 if args.quick else None),
                            args.threshold, clip.name)
        rows.append(r.to_dict())
        median = "-" if r.median_confidence is None else f"{r.median_confidence:.2f}"
        log.info("%-26s %4d frames  %4d face-frames  uncertain %4d = %5.1f%%  median top prob %s  (%.0f s)",
                 clip.name, r.frames, r.face_frames, r.uncertain, 100 * r.share, median,
                 time.perf_counter() - t0)
    face_frames = sum(r["face_frames"] for r in rows)
    uncertain = sum(r["uncertain"] for r in rows)
    total = {"face_frames": face_frames, "uncertain": uncertain,
             "share": uncertain / face_frames if face_frames else 0.0}
    log.info("all clips: %d of %d face-frames uncertain (%.1f%%) below %.2f",
             uncertain, face_frames, 100 * total["share"], args.threshold)
    if args.json:
        out = {"what": "share of face-frames the live path shows as 'uncertain' (top smoothed "
                       "probability below the threshold), EmotionPipeline with the default PipelineConfig",
               "weights": str(recognizer.classifier.weights_path), "pipeline": asdict(PipelineConfig()),
               "threshold": args.threshold, "quick": args.quick, "clips": rows, "all": total}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=1))
        log.info("wrote %s", args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
