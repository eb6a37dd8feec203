"""One video analysis behind every front end: the CLI, the HTTP API, the app's video tab and batch.

Each front end used to assemble its own: its own defaults (minimum face 40 px in the app, 20 px
elsewhere), its own recognizer factory and its own JSON, so one video could give different people
and figures depending on where it was uploaded. Now a front end fills one `AnalysisSettings`
(starting from the same defaults), gets its recognizer from a `ModelCache`, calls `analyze` and
reads a typed `VideoReport`, whose `document()` is the one versioned summary document and whose
`write()` writes the one set of files.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from fer.detection import DetectorConfig, FaceDetector
from fer.insights import InsightConfig, VideoSummary, summarize_video
from fer.pipeline import PipelineConfig
from fer.recognizer import DEFAULT_MAX_FACES, EmotionRecognizer
from fer.video import (
    DEFAULT_MAX_DURATION_S,
    DEFAULT_MAX_FRAMES,
    AnalysisOptions,
    ProgressFn,
    VideoAnalysis,
    VideoInfo,
    analyze_video,
    probe_video,
)
from fer.weights import DEFAULT_WEIGHTS, weights_path

# Shape of the summary document: bump when a key is renamed, removed or changes meaning.
SCHEMA_VERSION = 1
NOTE = ("Signals about visible facial expressions, for a human reviewer. They do not measure feelings, "
        "honesty or suitability and must not be used on their own to decide about people.")


def default_detector() -> DetectorConfig:
    """Video defaults: faces from 20 px, found on a 320 px copy (2x faster than 640 and, on
    interview footage, the same faces)."""
    return DetectorConfig(min_face_size=20, max_side=320)


@dataclass(frozen=True)
class AnalysisSettings:
    """Everything that decides a video's result, with the defaults every front end starts from."""

    model: str = DEFAULT_WEIGHTS
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
        with self._lock:  # two first requests must not load the same model twice
            classifier = self._classifiers.pop(str(path), None)
            if classifier is None:
                classifier = EmotionClassifier(path)
                size = classifier.input_size
                classifier.predict_proba(np.zeros((1, size, size), np.uint8))
            self._classifiers[str(path)] = classifier
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
            "analysis": {"model": s.model, "weights": self.weights, "every": s.every, "fps": s.fps,
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
    return VideoReport(name, analysis, summary, settings, recognizer.classifier.weights_path.name)
