"""`python -m fer video IN`: emotion timelines and per-person summaries of video files.

IN is a video file, a directory of videos or a glob ('interviews/*.mp4'). Exit status: 0 when
every video was analysed, 1 when some could not be, 2 for a usage error. For each video
OUT gets <name>_timeline.csv (and .parquet with pyarrow), <name>_summary.json,
<name>_timeline.png and, with --annotate, <name>_annotated.mp4; OUT/summary.csv has one row
per video, so a batch of interviews gives one comparable table. The figures describe visible
expressions for a human reviewer; they are not a measure of feelings or suitability.

Videos are treated as untrusted (someone else may have made them): only MP4/MOV, Matroska/WebM
and AVI are opened, recognised by content, and nothing in them may make the decoder open another
file or a URL (a playlist renamed .mp4 is refused). --trusted-input opens your own local files
in any format FFmpeg reads (MPEG-TS, MPEG-PS, WMV, HLS playlists...).
"""

from __future__ import annotations

import argparse

HELP = "analyse videos: emotion timeline, per-person summary, plots"
# Shape of <name>_summary.json: bump when a key is renamed, removed or changes meaning.
SUMMARY_SCHEMA_VERSION = 1

NOTE = ("Signals about visible facial expressions, for a human reviewer. They do not measure feelings, "
        "honesty or suitability and must not be used on their own to decide about people.")


def find_videos(pattern: str) -> list:
    """A file, every video in a directory, or the files a glob matches, sorted."""
    import glob
    from pathlib import Path

    from fer.video import VIDEO_SUFFIXES, VideoError

    p = Path(pattern)
    if p.is_dir():
        found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in VIDEO_SUFFIXES)
        if not found:
            raise VideoError(f"no video files ({', '.join(VIDEO_SUFFIXES)}) in {p}")
        return found
    if any(ch in pattern for ch in "*?["):
        found = sorted(Path(f) for f in glob.glob(pattern, recursive=True) if Path(f).is_file())
        if not found:
            raise VideoError(f"no files match {pattern}")
        return found
    if not p.exists():  # fail before the models load
        raise VideoError(f"video not found: {p}")
    return [p]  # a single path: probe_video says what else is wrong with it, if anything


def _stems(paths: list) -> list[str]:
    """Output names, unique even when two inputs share a file name."""
    seen: dict[str, int] = {}
    out = []
    for p in paths:
        n = seen.get(p.stem, 0)
        seen[p.stem] = n + 1
        out.append(p.stem if n == 0 else f"{p.stem}_{n + 1}")
    return out


def _analyse_one(path, stem: str, recognizer, args, options, config) -> dict:
    import json
    from pathlib import Path

    from tqdm import tqdm

    from fer.insights import summarize_video
    from fer.timeline import plot_timeline_png, write_timeline
    from fer.video import analyze_video, probe_video

    out = Path(args.out)
    # Fails fast, before a progress bar is drawn; untrusted unless --trusted-input (fer.video_guard).
    info = probe_video(path, trusted=getattr(args, "trusted_input", False))
    bar = tqdm(desc=path.name[:40], unit="frame", dynamic_ncols=True, leave=True)

    def progress(done: int, total: int | None) -> None:
        if total and bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    try:
        result = analyze_video(info, recognizer, options,
                               annotate_to=out / f"{stem}_annotated.mp4" if args.annotate else None,
                               progress=progress)
    finally:
        bar.close()
    summary = summarize_video(result.timeline, path.name, config)
    files = write_timeline(result.timeline, out, stem)
    png = plot_timeline_png(result.timeline, out / f"{stem}_timeline.png",
                            [p.track_id for p in summary.people],
                            title=path.name)
    report = {
        "schema_version": SUMMARY_SCHEMA_VERSION,
        "video": str(path),
        "note": NOTE,
        "source": {"width": info.width, "height": info.height, "fps": round(info.fps, 3),
                   "frame_count": info.frame_count, "codec": info.codec, "decoder": info.backend},
        "analysis": {"every": options.every, "fps": options.fps, "detect_every": options.detect_every,
                     "frames_analysed": result.frames_analysed, "stopped_at_cap": result.stopped_at_cap,
                     "stopped_by": result.stopped_by, "analysed_s": round(result.analysed_s, 3),
                     "max_frames": options.max_frames, "max_duration_s": options.max_duration_s,
                     "max_faces": recognizer.max_faces, "elapsed_s": round(result.elapsed_s, 2),
                     "frames_per_second": round(result.frames_per_second, 2),
                     "weights": recognizer.classifier.weights_path.name, "min_track_s": config.min_track_s},
        "summary": summary.to_dict(),
        "files": {"timeline_csv": files.csv.name,
                  "timeline_parquet": files.parquet.name if files.parquet else None, "plot": png.name,
                  "annotated": result.annotated_path.name if result.annotated_path else None},
    }
    (out / f"{stem}_summary.json").write_text(json.dumps(report, indent=2) + "\n")
    if result.stopped_by == "max_frames":
        print(f"warning: {path.name}: stopped after {result.frames_analysed} analysed frames; "
              "raise --max-frames to analyse all of it")
    elif result.stopped_by == "max_duration_s":
        print(f"warning: {path.name}: only the first {options.max_duration_s:g} s were analysed; "
              "raise --max-duration to analyse all of it")
    people = ", ".join(f"#{p.track_id} {p.seconds_on_screen:.1f}s {p.dominant}" for p in summary.people)
    people = people or "no one"
    print(f"{path.name}: {result.frames_analysed} frames at {result.frames_per_second:.1f} frames/s; "
          f"no face in {summary.share_without_face:.0%}; people: {people}")
    return summary.row()


def run(args) -> int:
    import sys
    from pathlib import Path

    import pandas as pd

    from fer.insights import InsightConfig
    from fer.pipeline import PipelineConfig
    from fer.video import AnalysisOptions, ContainerRefused, VideoError

    paths = find_videos(args.input)
    options = AnalysisOptions(every=args.every or 1, fps=args.fps, max_frames=args.max_frames,
                              max_duration_s=args.max_duration, reid_gap_s=args.reid_gap,
                              pipeline=PipelineConfig(detect_every=args.detect_every))
    config = InsightConfig(min_track_s=args.min_track)
    from fer.recognizer import EmotionRecognizer
    from fer.weights import list_weights, weights_path

    weights = weights_path(args.weights) if args.weights else None
    if weights is not None and not weights.is_file():
        raise FileNotFoundError(f"weights not found: {args.weights} (shipped: {', '.join(list_weights())})")
    recognizer = EmotionRecognizer(weights, min_face_size=args.min_face, detect_max_side=args.detect_side,
                                   max_faces=args.max_faces)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, failed = [], 0
    for path, stem in zip(paths, _stems(paths)):
        try:
            rows.append(_analyse_one(path, stem, recognizer, args, options, config))
        except (VideoError, OSError) as e:  # one bad video (or a full disk) must not stop the batch
            failed += 1
            hint = " (a file of your own: --trusted-input)" if isinstance(e, ContainerRefused) else ""
            print(f"error: {e}{hint}", file=sys.stderr)
            rows.append({"video": path.name, "error": str(e)})
    table = pd.DataFrame(rows)
    table.to_csv(out / "summary.csv", index=False)
    print(f"wrote {out}/summary.csv ({len(rows) - failed} of {len(rows)} videos analysed)")
    return 1 if failed else 0  # 2 (usage errors) comes from fer.cli


def _positive_int(s: str) -> int:
    v = int(s)
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {v}")
    return v


def _positive_float(s: str) -> float:
    v = float(s)
    if not v > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {s}")
    return v


def add_arguments(p: argparse.ArgumentParser) -> None:
    from fer.recognizer import DEFAULT_MAX_FACES
    from fer.video import DEFAULT_MAX_DURATION_S

    p.add_argument("input", metavar="IN", help="a video file, a directory of videos, or a glob")
    p.add_argument("--out", default="fer_video_results", help="output directory (default: %(default)s)")
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("--every", type=_positive_int, metavar="N",
                      help="analyse every N-th frame (default: all)")
    rate.add_argument("--fps", type=_positive_float, metavar="F", help="analyse about F frames per second")
    p.add_argument("--detect-every", type=_positive_int, default=3, metavar="K",
                   help="run the face detector on every K-th analysed frame and track in between; a "
                        "face that leaves its box is detected again at once (default: %(default)s; "
                        "1 = detect on every frame, exact but about 2.5x slower)")
    p.add_argument("--detect-side", type=_positive_int, default=320, metavar="PX",
                   help="longer side of the copy the detector sees (default: %(default)s; 640 finds "
                        "smaller faces, about 2x slower)")
    p.add_argument("--annotate", action="store_true", help="also write an annotated video")
    p.add_argument("--max-frames", type=_positive_int, default=108_000, metavar="N",
                   help="stop after N analysed frames (default: %(default)s, one hour at 30 fps)")
    p.add_argument("--max-duration", type=_positive_float, default=DEFAULT_MAX_DURATION_S, metavar="S",
                   help="analyse at most the first S seconds of each video (default: %(default)g)")
    p.add_argument("--max-faces", type=_positive_int, default=DEFAULT_MAX_FACES, metavar="N",
                   help="analyse at most the N largest faces in each frame (default: %(default)s)")
    p.add_argument("--weights", metavar="W", help="weights name in weights/ or a .safetensors path")
    p.add_argument("--min-face", type=_positive_int, default=20, metavar="PX",
                   help="smallest face to detect, in pixels (default: %(default)s; larger is faster)")
    p.add_argument("--min-track", type=float, default=0.5, metavar="S",
                   help="leave people on screen for less than S seconds out of summaries "
                        "(default: %(default)s)")
    p.add_argument("--trusted-input", action="store_true",
                   help="the videos are your own local files: open any format FFmpeg reads, playlists and "
                        "lists included (default: only MP4/MOV, Matroska/WebM and AVI, by content, and "
                        "nothing that makes the decoder open another file or a URL)")
    p.add_argument("--reid-gap", type=float, default=5.0, metavar="S",
                   help="a person who returns within S seconds keeps their id (default: %(default)s)")
