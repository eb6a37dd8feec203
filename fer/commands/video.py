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
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fer.analysis import AnalysisSettings

HELP = "analyse videos: emotion timeline, per-person summary, plots"


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


def settings_from(args) -> AnalysisSettings:
    """The command's options as the one settings object every front end fills."""
    from fer.analysis import AnalysisSettings, default_detector
    from fer.pipeline import PipelineConfig

    base = AnalysisSettings()
    detector = replace(default_detector(), min_face_size=args.min_face, max_side=args.detect_side)
    return base.with_(model=args.weights or base.model, detector=detector, max_faces=args.max_faces,
                      pipeline=PipelineConfig(detect_every=args.detect_every), every=args.every or 1,
                      fps=args.fps, max_frames=args.max_frames, max_duration_s=args.max_duration,
                      reid_gap_s=args.reid_gap, min_track_s=args.min_track, trusted_input=args.trusted_input)


def analyse_file(path, stem: str, settings: AnalysisSettings, recognizer, out, annotate: bool = False) -> dict:
    """One video into `out` (<stem>_timeline.csv, _summary.json, _timeline.png); returns its
    summary row. Raises `VideoError` (or OSError) for a video that cannot be analysed."""
    from pathlib import Path

    from tqdm import tqdm

    from fer.analysis import analyze
    from fer.video import probe_video

    info = probe_video(path, trusted=settings.trusted_input)  # fails fast, before a progress bar is drawn
    bar = tqdm(desc=path.name[:40], unit="frame", dynamic_ncols=True, leave=True)

    def progress(done: int, total: int | None) -> None:
        if total and bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    out = Path(out)
    try:
        report = analyze(info, settings, recognizer, name=str(path), progress=progress,
                         annotate_to=out / f"{stem}_annotated.mp4" if annotate else None)
    finally:
        bar.close()
    report.write(out, stem)
    result, summary = report.analysis, report.summary
    if result.stopped_by == "max_frames":
        print(f"warning: {path.name}: stopped after {result.frames_analysed} analysed frames; "
              "raise --max-frames to analyse all of it")
    elif result.stopped_by == "max_duration_s":
        print(f"warning: {path.name}: only the first {settings.max_duration_s:g} s were analysed; "
              "raise --max-duration to analyse all of it")
    people = ", ".join(f"#{p.track_id} {p.seconds_on_screen:.1f}s {p.dominant}" for p in summary.people)
    people = people or "no one"
    print(f"{path.name}: {result.frames_analysed} frames at {result.frames_per_second:.1f} frames/s; "
          f"no face in {summary.share_without_face:.0%}; people: {people}")
    return summary.row()


def analyse_files(paths: list, settings: AnalysisSettings, out, annotate: bool = False) -> list[dict]:
    """Every video into `out` and one row each (an "error" row for a video that failed) in
    out/summary.csv; the models load once. Shared by this command and `fer batch`."""
    import sys
    from pathlib import Path

    import pandas as pd

    from fer.analysis import ModelCache
    from fer.video import ContainerRefused, VideoError
    from fer.weights import list_weights, weights_path

    if not weights_path(settings.model).is_file():
        raise FileNotFoundError(f"weights not found: {settings.model} (shipped: {', '.join(list_weights())})")
    recognizer = ModelCache().recognizer(settings)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for path, stem in zip(paths, _stems(paths)):
        try:
            rows.append(analyse_file(path, stem, settings, recognizer, out, annotate))
        except (VideoError, OSError) as e:  # one bad video (or a full disk) must not stop the batch
            hint = " (a file of your own: --trusted-input)" if isinstance(e, ContainerRefused) else ""
            print(f"error: {e}{hint}", file=sys.stderr)
            rows.append({"video": path.name, "error": str(e)})
    pd.DataFrame(rows).to_csv(out / "summary.csv", index=False)
    return rows


def run(args) -> int:
    rows = analyse_files(find_videos(args.input), settings_from(args), args.out, args.annotate)
    failed = sum("error" in r for r in rows)
    print(f"wrote {args.out}/summary.csv ({len(rows) - failed} of {len(rows)} videos analysed)")
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
    from fer.analysis import AnalysisSettings

    d = AnalysisSettings()  # the defaults of every front end
    p.add_argument("input", metavar="IN", help="a video file, a directory of videos, or a glob")
    p.add_argument("--out", default="fer_video_results", help="output directory (default: %(default)s)")
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("--every", type=_positive_int, metavar="N",
                      help="analyse every N-th frame (default: all)")
    rate.add_argument("--fps", type=_positive_float, metavar="F", help="analyse about F frames per second")
    p.add_argument("--detect-every", type=_positive_int, default=d.pipeline.detect_every, metavar="K",
                   help="run the face detector on every K-th analysed frame and track in between; a "
                        "face that leaves its box is detected again at once (default: %(default)s; "
                        "1 = detect on every frame, exact but about 2.5x slower)")
    p.add_argument("--detect-side", type=_positive_int, default=d.detector.max_side, metavar="PX",
                   help="longer side of the copy the detector sees (default: %(default)s; 640 finds "
                        "smaller faces, about 2x slower)")
    p.add_argument("--annotate", action="store_true", help="also write an annotated video")
    p.add_argument("--max-frames", type=_positive_int, default=d.max_frames, metavar="N",
                   help="stop after N analysed frames (default: %(default)s, one hour at 30 fps)")
    p.add_argument("--max-duration", type=_positive_float, default=d.max_duration_s, metavar="S",
                   help="analyse at most the first S seconds of each video (default: %(default)g)")
    p.add_argument("--max-faces", type=_positive_int, default=d.max_faces, metavar="N",
                   help="analyse at most the N largest faces in each frame (default: %(default)s)")
    p.add_argument("--weights", metavar="W", help="weights name in weights/ or a .safetensors path")
    p.add_argument("--min-face", type=_positive_int, default=d.detector.min_face_size, metavar="PX",
                   help="smallest face to detect, in pixels (default: %(default)s; larger is faster)")
    p.add_argument("--min-track", type=float, default=d.min_track_s, metavar="S",
                   help="leave people on screen for less than S seconds out of summaries "
                        "(default: %(default)s)")
    p.add_argument("--trusted-input", action="store_true",
                   help="the videos are your own local files: open any format FFmpeg reads, playlists and "
                        "lists included (default: only MP4/MOV, Matroska/WebM and AVI, by content, and "
                        "nothing that makes the decoder open another file or a URL)")
    p.add_argument("--reid-gap", type=float, default=d.reid_gap_s, metavar="S",
                   help="a person who returns within S seconds keeps their id (default: %(default)s)")
