"""One video analysis behind every front end: the CLI, the HTTP API, the app's video tab and batch.

Each front end used to assemble its own: its own defaults (minimum face 40 px in the app, 20 px
elsewhere), its own recognizer factory and its own JSON, so one video could give different people
and figures depending on where it was uploaded. Now a front end fills one `AnalysisSettings`
(starting from the same defaults), gets its recognizer from a `ModelCache`, calls `analyze` and
reads a typed `VideoReport`, whose `document()` is the one versioned summary document and whose
`write()` writes the one set of files. Underneath, `iter_video_analysis` runs `EmotionPipeline`
(detect, track, classify, smooth) on the frames `fer.video` decodes, gives each face a person id
that survives short absences (`fer.reid`) and can write an annotated copy; `analyze_video`
collects the frames into the timeline table (`fer.timeline`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from fer.detection import DetectorConfig, FaceDetector
from fer.insights import InsightConfig, VideoSummary, summarize_video
from fer.pipeline import EmotionPipeline, PipelineConfig
from fer.recognizer import DEFAULT_MAX_FACES, EmotionRecognizer
from fer.reid import TrackLinker
from fer.results import FaceEmotion, FrameResult
from fer.timeline import TimelineBuilder
from fer.video import (
    DEFAULT_MAX_DURATION_S,
    DEFAULT_MAX_FRAMES,
    FrameSampler,
    ProgressFn,
    VideoError,
    VideoInfo,
    iter_frames,
    probe_video,
)
from fer.weights import DEFAULT_WEIGHTS, weights_path

# Shape of the summary document: bump when a key is renamed, removed or changes meaning.
SCHEMA_VERSION = 1
NOTE = ("Signals about visible facial expressions, for a human reviewer. They do not measure feelings, "
        "honesty or suitability and must not be used on their own to decide about people.")


# -- streaming analysis: frames -> pipeline -> person ids -> timeline ------------------------------
@dataclass
class AnalysisOptions:
    every: int = 1  # analyse every N-th frame ...
    fps: float | None = None  # ... or about this many frames per second
    max_frames: int = DEFAULT_MAX_FRAMES
    max_duration_s: float = DEFAULT_MAX_DURATION_S  # seconds of video analysed, from the start
    reid_gap_s: float = 5.0  # a person who returns within this many seconds keeps their id
    # Detection schedule, tracking and smoothing: the same settings object the live view uses.
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)

    @property
    def detect_every(self) -> int:
        return self.pipeline.detect_every

    def __post_init__(self):
        if self.max_frames < 1:
            raise ValueError(f"max frames must be >= 1, got {self.max_frames}")
        if not self.max_duration_s > 0:
            raise ValueError(f"max duration must be > 0 s, got {self.max_duration_s}")
        if self.pipeline.detect_every < 1:
            raise ValueError(f"detect_every must be >= 1, got {self.pipeline.detect_every}")


class _AnnotatedWriter:
    def __init__(self, path: Path, info: VideoInfo, fps: float):
        import cv2

        from fer.annotate import EmotionAnnotator

        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps,
                                      (info.width, info.height))
        if not self.writer.isOpened():
            raise VideoError(f"cannot write an annotated video to {path}")
        self.annotator = EmotionAnnotator()

    def write(self, rgb: np.ndarray, faces: list[FaceEmotion]) -> None:
        import cv2

        frame = self.annotator.annotate(rgb, faces)  # the frame is ours: draw in place
        self.writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        self.writer.release()


def iter_video_analysis(video: str | Path | VideoInfo, recognizer: EmotionRecognizer, options: AnalysisOptions | None = None,
                        annotate_to: str | Path | None = None,
                        progress: ProgressFn | None = None) -> Iterator[FrameResult]:
    """One `FrameResult` per analysed frame (the source frame's index and time, the seconds it
    stands for, person ids), as the video decodes; memory does not grow with length."""
    opts = options or AnalysisOptions()
    info = video if isinstance(video, VideoInfo) else probe_video(video)
    sampler = FrameSampler(info.fps, opts.every, opts.fps)
    expected = sampler.expected(info.frame_count)
    total = min(expected, opts.max_frames) if expected else None
    if total and info.duration_s > opts.max_duration_s:
        total = max(1, round(total * opts.max_duration_s / info.duration_s))
    pipeline = EmotionPipeline(recognizer, opts.pipeline)
    linker = TrackLinker(max_gap_s=opts.reid_gap_s)
    writer = None
    try:
        if annotate_to:
            writer = _AnnotatedWriter(Path(annotate_to), info, 1.0 / sampler.dt)
        n = 0
        for frame in iter_frames(info, opts.every, opts.fps, opts.max_frames, opts.max_duration_s):
            result = pipeline.process(frame.rgb, frame.t)
            record = replace(result, index=frame.index, dt=frame.dt,
                             faces=linker.update(result.faces, frame.t, result.cut))
            if writer:
                writer.write(frame.rgb, record.faces)
            n += 1
            if progress:
                progress(n, total)
            yield record
        if n == 0:
            raise VideoError(f"{info.path.name}: no frame could be decoded")
    except OSError as e:  # the annotated copy's disk is full or read-only
        raise VideoError(f"{info.path.name}: could not write the results ({e.strerror or e})") from None
    finally:
        if writer:
            writer.close()


@dataclass
class VideoAnalysis:
    info: VideoInfo
    timeline: pd.DataFrame  # one row per face per analysed frame: see fer.timeline for the columns
    frames_analysed: int
    stopped_at_cap: bool  # True when a cap (`max_frames`, `max_duration_s`) ended the analysis early
    elapsed_s: float  # processing time (not the video's length: that is `analysed_s`)
    annotated_path: Path | None = None
    labels: tuple[str, ...] = field(default_factory=tuple)
    analysed_s: float = 0.0  # seconds of video analysed: the last analysed frame's end
    stopped_by: str = ""  # "" or which cap ended it: "max_frames" or "max_duration_s"

    @property
    def frames_per_second(self) -> float:
        return self.frames_analysed / self.elapsed_s if self.elapsed_s > 0 else 0.0


def analyze_video(video: str | Path | VideoInfo, recognizer: EmotionRecognizer,
                  options: AnalysisOptions | None = None, annotate_to: str | Path | None = None,
                  progress: ProgressFn | None = None) -> VideoAnalysis:
    """Analyse a whole video into the timeline table (one row per face per analysed frame);
    a path is probed (and guarded) here, a `VideoInfo` keeps the probe's verdict."""

    opts = options or AnalysisOptions()
    info = video if isinstance(video, VideoInfo) else probe_video(video)
    builder = TimelineBuilder(tuple(recognizer.labels))
    start = time.perf_counter()
    end_t = last_dt = 0.0
    for record in iter_video_analysis(info, recognizer, opts, annotate_to, progress):
        builder.add(record)
        end_t, last_dt = record.t + record.dt, record.dt
    elapsed = time.perf_counter() - start
    # Stopped by a cap unless the container says the video ended exactly there.
    expected = FrameSampler(info.fps, opts.every, opts.fps).expected(info.frame_count)
    stopped_by = ""
    if builder.frames >= opts.max_frames and (expected is None or expected > opts.max_frames):
        stopped_by = "max_frames"
    elif end_t + last_dt / 2 >= opts.max_duration_s and (info.duration_s == 0
                                                         or info.duration_s > opts.max_duration_s):
        stopped_by = "max_duration_s"
    return VideoAnalysis(info, builder.to_frame(), builder.frames, bool(stopped_by), elapsed,
                         Path(annotate_to) if annotate_to else None, tuple(recognizer.labels),
                         analysed_s=end_t, stopped_by=stopped_by)


# -- the one analysis every front end calls --------------------------------------------------------
def default_detector() -> DetectorConfig:
    """Video defaults: faces from 20 px, found on a 320 px copy (2x faster than 640 and, on
    interview footage, the same faces)."""
    return DetectorConfig(min_face_size=20, max_side=320)


@dataclass(frozen=True)
class AnalysisSettings:
    """Everything that decides a video's result, with the defaults every front end starts from."""

    model: str = DEFAULT_WEIGHTS
    precision: str = "auto"  # the classifier's graph: "auto" (int8 where its parity is good), "float", "int8"
    detector: DetectorConfig = field(default_factory=default_detector)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    max_faces: int = DEFAULT_MAX_FACES  # the largest faces of a frame analysed
    every: int = 1  # analyse every N-th frame ...
    fps: float | None = None  # ... or about this many frames per second
    max_frames: int = DEFAULT_MAX_FRAMES
    max_duration_s: float = DEFAULT_MAX_DURATION_S
    reid_gap_s: float = 5.0  # a person back within this many seconds keeps their id
    min_track_s: float = 0.5  # people on screen for less are left out of summaries
    trusted_input: bool = False  # True: a local file of the user's own, any format FFmpeg reads

    def with_(self, **changes) -> AnalysisSettings:
        return replace(self, **changes)

    def options(self) -> AnalysisOptions:
        return AnalysisOptions(every=self.every, fps=self.fps, max_frames=self.max_frames,
                               max_duration_s=self.max_duration_s, reid_gap_s=self.reid_gap_s,
                               pipeline=self.pipeline)

    def insight_config(self) -> InsightConfig:
        return InsightConfig(min_track_s=self.min_track_s)


class ModelCache:
    """The one factory of recognizers (CLI, API, app, live worker, batch): loaded networks shared
    by every analysis of a process, each classifier loaded once (the `max_models` most recently
    used are kept) and one MTCNN whose settings are derived for free (`FaceDetector.with_config`).
    Inference is read-only, so threads may share what this returns. Each network is warmed up
    once when loaded: first calls allocate lazily (seconds on a busy CPU), which belongs to
    loading, not to the first frame of a live stream."""

    def __init__(self, max_models: int = 4) -> None:
        self.max_models = max_models
        self._lock = threading.Lock()
        self._classifiers: dict[str, object] = {}  # most recently used last
        self._detector: FaceDetector | None = None

    def recognizer(self, settings: AnalysisSettings) -> EmotionRecognizer:
        from fer.classifier import EmotionClassifier

        path = weights_path(settings.model)
        if not path.is_file():
            raise FileNotFoundError(f"weights not found: {settings.model}")
        key = f"{path}|{settings.precision}"
        with self._lock:  # two first requests must not load the same model twice
            classifier = self._classifiers.pop(key, None)
            if classifier is None:
                classifier = EmotionClassifier(path, precision=settings.precision)
                size = classifier.input_size
                classifier.predict_proba(np.zeros((1, size, size), np.uint8))
            self._classifiers[key] = classifier
            while len(self._classifiers) > self.max_models:
                self._classifiers.pop(next(iter(self._classifiers)))
            if self._detector is None:
                self._detector = FaceDetector(settings.detector)
                self._detector.detect(np.zeros((480, 640, 3), np.uint8))
            detector = self._detector.with_config(settings.detector)
        return EmotionRecognizer(classifier=classifier, detector=detector, max_faces=settings.max_faces)


@dataclass(frozen=True)
class ReportFiles:
    summary: Path
    timeline_csv: Path
    timeline_parquet: Path | None
    plot: Path | None
    annotated: Path | None


@dataclass(frozen=True)
class VideoReport:
    name: str  # the video as the user knows it (a path given, an upload's file name)
    analysis: VideoAnalysis
    summary: VideoSummary
    settings: AnalysisSettings
    weights: str  # the classifier's file name
    precision: str = "float"  # the classifier's graph that ran: "float" or "int8"

    @property
    def timeline(self) -> pd.DataFrame:
        return self.analysis.timeline

    def timeline_csv(self) -> bytes:
        return self.timeline.to_csv(index=False, float_format="%.5g").encode()

    def document(self, files: ReportFiles | None = None) -> dict:
        """The summary document (`SCHEMA_VERSION`): the same for `fer video`, the API and the app."""
        a, info, s = self.analysis, self.analysis.info, self.settings
        doc = {
            "schema_version": SCHEMA_VERSION,
            "video": self.name,
            "note": NOTE,
            "source": {"width": info.width, "height": info.height, "fps": round(info.fps, 3),
                       "frame_count": info.frame_count, "codec": info.codec, "decoder": info.backend},
            "analysis": {"model": s.model, "weights": self.weights, "precision": self.precision,
                         "every": s.every, "fps": s.fps,
                         "detect_every": s.pipeline.detect_every, "detect_side": s.detector.max_side,
                         "min_face_size": s.detector.min_face_size, "max_faces": s.max_faces,
                         "frames_analysed": a.frames_analysed, "stopped_at_cap": a.stopped_at_cap,
                         "stopped_by": a.stopped_by, "analysed_s": round(a.analysed_s, 3),
                         "max_frames": s.max_frames, "max_duration_s": s.max_duration_s,
                         "min_track_s": s.min_track_s, "elapsed_s": round(a.elapsed_s, 2),
                         "frames_per_second": round(a.frames_per_second, 2)},
            "summary": self.summary.to_dict(),
        }
        if files is not None:
            doc["files"] = {"timeline_csv": files.timeline_csv.name,
                            "timeline_parquet": files.timeline_parquet.name if files.timeline_parquet else None,
                            "plot": files.plot.name if files.plot else None,
                            "annotated": files.annotated.name if files.annotated else None}
        return doc

    def write(self, out_dir: str | Path, stem: str, plot: bool = True) -> ReportFiles:
        """<stem>_timeline.csv (and .parquet with pyarrow), <stem>_timeline.png and
        <stem>_summary.json into `out_dir`."""
        from fer.timeline import plot_timeline_png, write_timeline

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        timeline = write_timeline(self.timeline, out, stem)
        png = (plot_timeline_png(self.timeline, out / f"{stem}_timeline.png",
                                 [p.track_id for p in self.summary.people], title=self.name)
               if plot else None)
        files = ReportFiles(out / f"{stem}_summary.json", timeline.csv, timeline.parquet, png,
                            self.analysis.annotated_path)
        files.summary.write_text(json.dumps(self.document(files), indent=2) + "\n")
        return files


def analyze(video: str | Path | VideoInfo, settings: AnalysisSettings | None = None,
            recognizer: EmotionRecognizer | None = None, *, name: str | None = None,
            annotate_to: str | Path | None = None, progress: ProgressFn | None = None) -> VideoReport:
    """Analyse one video with `settings`: probe and guard it (untrusted unless the settings say
    otherwise), run the pipeline, summarise per person. `recognizer` defaults to a fresh one for
    the settings (pass one from a `ModelCache` to share loaded models). Raises `VideoError`."""
    settings = settings or AnalysisSettings()
    info = video if isinstance(video, VideoInfo) else probe_video(video, trusted=settings.trusted_input)
    recognizer = recognizer or ModelCache().recognizer(settings)
    analysis = analyze_video(info, recognizer, settings.options(), annotate_to=annotate_to, progress=progress)
    name = name or str(info.path)
    summary = summarize_video(analysis.timeline, Path(name).name, settings.insight_config())
    return VideoReport(name, analysis, summary, settings, recognizer.classifier.weights_path.name,
                       recognizer.classifier.precision)
