"""Video files in, per-frame emotion records out, streaming: one decoded frame in memory at a time.

`probe_video` checks a file before any model work, so a bad upload fails in milliseconds with
a message a user can act on (`VideoError`). `iter_frames` decodes with OpenCV, or PyAV where
OpenCV cannot open the file, and samples every frame, every N-th, or a target rate.
`iter_video_analysis` runs `EmotionPipeline` (detect, track, classify, smooth) on the samples,
gives each face a person id that survives short absences (`fer.reid`), and can write an
annotated copy; `analyze_video` collects the records into the timeline table.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fer.pipeline import EmotionPipeline, PipelineConfig
from fer.reid import TrackLinker
from fer.results import FaceEmotion

# ffmpeg inside OpenCV prints decoder noise for broken files; our own message says it better.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

VIDEO_SUFFIXES = (".mp4", ".avi", ".webm", ".mov", ".mkv", ".m4v", ".mpg", ".mpeg", ".wmv")
DEFAULT_MAX_FRAMES = 108_000  # analysed frames: one hour at 30 fps; raise it for longer videos
MAX_FPS = 1000.0  # containers that claim more are lying (e.g. a timebase read as a rate)

ProgressFn = Callable[[int, "int | None"], None]  # (frames analysed, expected total or None)


class VideoError(ValueError):
    """A video that cannot be analysed: missing, empty, truncated, audio-only, no frame rate..."""


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    width: int
    height: int
    fps: float
    frame_count: int  # as the container reports it; 0 when unknown (an estimate either way)
    codec: str
    backend: str  # "opencv" or "pyav": the decoder that will read the frames

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps if self.frame_count > 0 else 0.0


@dataclass(frozen=True)
class VideoFrame:
    index: int  # position in the source video
    t: float  # seconds from the start
    rgb: np.ndarray


@dataclass(frozen=True)
class FrameSampler:
    """Which source frames to analyse: all, every N-th, or about `target_fps` per second."""

    src_fps: float
    every: int = 1
    target_fps: float | None = None

    def __post_init__(self):
        if self.every < 1:
            raise ValueError(f"every must be >= 1, got {self.every}")
        if self.target_fps is not None and not self.target_fps > 0:
            raise ValueError(f"target fps must be > 0, got {self.target_fps}")
        if self.target_fps is not None and self.every != 1:
            raise ValueError("give either every-N-th frame or a target fps, not both")

    @property
    def _ratio(self) -> float:
        return 1.0 if self.target_fps is None else min(1.0, self.target_fps / self.src_fps)

    def keep(self, index: int) -> bool:
        if self.target_fps is None:
            return index % self.every == 0
        r = self._ratio
        return index == 0 or math.floor(index * r + 1e-9) != math.floor((index - 1) * r + 1e-9)

    @property
    def dt(self) -> float:
        """Seconds of video each analysed frame stands for (its weight in time-based summaries)."""
        return self.every / self.src_fps if self.target_fps is None else 1.0 / (self.src_fps * self._ratio)

    def expected(self, frame_count: int) -> int | None:
        if frame_count <= 0:
            return None
        if self.target_fps is None:
            return (frame_count + self.every - 1) // self.every
        return max(1, round(frame_count * self._ratio))


def _valid_fps(fps: float | None) -> bool:
    return fps is not None and math.isfinite(fps) and 0 < fps <= MAX_FPS


def _check_file(path: Path) -> None:
    if not path.exists():
        raise VideoError(f"video not found: {path}")
    if path.is_dir():
        raise VideoError(f"{path} is a directory, not a video file")
    if path.stat().st_size == 0:
        raise VideoError(f"{path.name} is empty (0 bytes)")


def _probe_opencv(path: Path) -> VideoInfo | None:
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            return None
        ok, frame = cap.read()
        if not ok or frame is None:
            return None
        fourcc = int(cap.get(cv2.CAP_PROP_FOURCC))
        codec = "".join(chr((fourcc >> 8 * i) & 0xFF) for i in range(4)).strip("\x00 ") if fourcc else ""
        return VideoInfo(path, frame.shape[1], frame.shape[0], float(cap.get(cv2.CAP_PROP_FPS) or 0.0),
                         max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)), codec, "opencv")
    finally:
        cap.release()


def _probe_pyav(path: Path) -> VideoInfo:
    """Second opinion where OpenCV fails; its errors name what is wrong with the file."""
    try:
        import av
    except ImportError:  # PyAV is optional: without it, OpenCV's failure is final
        raise VideoError(f"{path.name} is not a readable video (truncated, corrupt or unsupported format)")
    try:
        container = av.open(str(path))
    except Exception:
        raise VideoError(f"{path.name} is not a readable video (truncated, corrupt or unsupported format)")
    with container:
        if not container.streams.video:
            if container.streams.audio:
                raise VideoError(f"{path.name} has only audio, no video stream")
            raise VideoError(f"{path.name} has no video stream")
        stream = container.streams.video[0]
        try:
            frame = next(container.decode(stream), None)
        except Exception:
            frame = None
        if frame is None:
            raise VideoError(f"{path.name} has a video stream but no decodable frame (truncated or corrupt)")
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        return VideoInfo(path, frame.width, frame.height, float(rate) if rate else 0.0,
                         int(stream.frames or 0), stream.codec_context.name or "", "pyav")


def probe_video(path: str | Path) -> VideoInfo:
    """Size, rate and length of a video, after checking one frame decodes. Raises `VideoError`."""
    path = Path(path)
    _check_file(path)
    return check_frame_rate(_probe_opencv(path) or _probe_pyav(path))


def check_frame_rate(info: VideoInfo) -> VideoInfo:
    """Frame times come from the rate; a missing or absurd rate would make every duration wrong."""
    if not _valid_fps(info.fps):
        raise VideoError(f"{info.path.name} reports no usable frame rate ({info.fps:g} fps), so frame times "
                         "are unknown; re-encode it with a fixed rate (e.g. ffmpeg -r 30)")
    return info


def _read_opencv(info: VideoInfo, sampler: FrameSampler) -> Iterator[VideoFrame]:
    import cv2

    cap = cv2.VideoCapture(str(info.path))
    try:
        index = 0
        while True:
            if sampler.keep(index):
                ok, bgr = cap.read()
                if not ok:
                    return
                yield VideoFrame(index, index / info.fps, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            elif not cap.grab():  # skipped frames are decoded but never converted
                return
            index += 1
    finally:
        cap.release()


def _read_pyav(info: VideoInfo, sampler: FrameSampler) -> Iterator[VideoFrame]:
    import av

    with av.open(str(info.path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for index, frame in enumerate(container.decode(stream)):
                if sampler.keep(index):
                    yield VideoFrame(index, index / info.fps, frame.to_ndarray(format="rgb24"))
        except av.error.InvalidDataError:  # a truncated tail: keep what decoded
            return


def iter_frames(video: str | Path | VideoInfo, every: int = 1, fps: float | None = None,
                max_frames: int | None = None) -> Iterator[VideoFrame]:
    """Sampled RGB frames, decoded one at a time; stops at the end of the stream or `max_frames`."""
    info = video if isinstance(video, VideoInfo) else probe_video(video)
    sampler = FrameSampler(info.fps, every, fps)
    reader = _read_opencv if info.backend == "opencv" else _read_pyav
    for n, frame in enumerate(reader(info, sampler)):
        if max_frames is not None and n >= max_frames:
            return
        yield frame


@dataclass
class AnalysisOptions:
    every: int = 1  # analyse every N-th frame ...
    fps: float | None = None  # ... or about this many frames per second
    detect_every: int = 3  # run the face detector on every k-th analysed frame; 1 = exact
    max_frames: int = DEFAULT_MAX_FRAMES
    half_life_s: float = 0.5  # smoothing of the probabilities
    reid_gap_s: float = 5.0  # a person who returns within this many seconds keeps their id
    max_missed: int = 10  # detections a tracker id survives without a match

    def __post_init__(self):
        if self.max_frames < 1:
            raise ValueError(f"max frames must be >= 1, got {self.max_frames}")
        if self.detect_every < 1:
            raise ValueError(f"detect_every must be >= 1, got {self.detect_every}")


@dataclass(frozen=True)
class FrameRecord:
    index: int  # source frame index
    t: float  # seconds
    dt: float  # seconds of video this analysed frame stands for
    faces: list[FaceEmotion]  # smoothed probabilities, track_id = person id
    raw: list[FaceEmotion]  # this frame's classifier output, same order and ids
    detected: bool  # whether the detector ran on this frame


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


def iter_video_analysis(video: str | Path | VideoInfo, recognizer, options: AnalysisOptions | None = None,
                        annotate_to: str | Path | None = None,
                        progress: ProgressFn | None = None) -> Iterator[FrameRecord]:
    """One `FrameRecord` per analysed frame, as the video decodes; memory does not grow with length."""
    opts = options or AnalysisOptions()
    info = video if isinstance(video, VideoInfo) else probe_video(video)
    sampler = FrameSampler(info.fps, opts.every, opts.fps)
    expected = sampler.expected(info.frame_count)
    total = min(expected, opts.max_frames) if expected else None
    pipeline = EmotionPipeline(recognizer, PipelineConfig(detect_every=opts.detect_every,
                                                          half_life_s=opts.half_life_s,
                                                          max_missed=opts.max_missed))
    linker = TrackLinker(max_gap_s=opts.reid_gap_s)
    writer = _AnnotatedWriter(Path(annotate_to), info, 1.0 / sampler.dt) if annotate_to else None
    try:
        n = 0
        for frame in iter_frames(info, opts.every, opts.fps, opts.max_frames):
            result = pipeline.process(frame.rgb, frame.t)
            ids = linker.person_ids(result.raw, frame.t)  # raw and smoothed share tracker ids and order
            record = FrameRecord(frame.index, frame.t, sampler.dt, linker.relabel(result.faces, ids),
                                 linker.relabel(result.raw, ids), result.detected)
            if writer:
                writer.write(frame.rgb, record.faces)
            n += 1
            if progress:
                progress(n, total)
            yield record
        if n == 0:
            raise VideoError(f"{info.path.name}: no frame could be decoded")
    finally:
        if writer:
            writer.close()


@dataclass
class VideoAnalysis:
    info: VideoInfo
    timeline: "object"  # pandas.DataFrame, see fer.timeline for the columns
    frames_analysed: int
    stopped_at_cap: bool  # True when `max_frames` ended the analysis before the video did
    elapsed_s: float
    annotated_path: Path | None = None
    labels: tuple[str, ...] = field(default_factory=tuple)

    @property
    def frames_per_second(self) -> float:
        return self.frames_analysed / self.elapsed_s if self.elapsed_s > 0 else 0.0


def analyze_video(video: str | Path, recognizer, options: AnalysisOptions | None = None,
                  annotate_to: str | Path | None = None, progress: ProgressFn | None = None) -> VideoAnalysis:
    """Analyse a whole video into the timeline table (one row per face per analysed frame)."""
    from fer.timeline import TimelineBuilder

    opts = options or AnalysisOptions()
    info = probe_video(video)
    builder = TimelineBuilder(tuple(recognizer.labels))
    start = time.perf_counter()
    for record in iter_video_analysis(info, recognizer, opts, annotate_to, progress):
        builder.add(record)
    elapsed = time.perf_counter() - start
    # Stopped by the cap unless the container says the video ended exactly there.
    expected = FrameSampler(info.fps, opts.every, opts.fps).expected(info.frame_count)
    capped = builder.frames >= opts.max_frames and (expected is None or expected > opts.max_frames)
    return VideoAnalysis(info, builder.to_frame(), builder.frames, capped, elapsed,
                         Path(annotate_to) if annotate_to else None, tuple(recognizer.labels))
