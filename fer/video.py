"""Video files in, frames out, streaming: one decoded frame in memory at a time.

`probe_video` checks a file before any model work, so a bad upload fails in milliseconds with
a message a user can act on (`VideoError`): first `fer.video_guard` (MP4/MOV, Matroska/WebM or
AVI by content, no playlist or URL; every decoder is opened through it), then frames larger
than `MAX_VIDEO_PIXELS`, from the header, before one is decoded. `iter_frames` decodes with
OpenCV, or PyAV where OpenCV cannot open the file, and samples every frame, every N-th, or a
target rate. Every frame carries its own timestamp from the container: browser recordings (WebM
from MediaRecorder) have a variable frame rate and a 1 ms timebase that containers report as
"1000 fps", so index / fps would put a 2 s clip's last frame at 0.06 s. What is done with the
frames is `fer.analysis`'s job.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer.video_guard import (  # noqa: F401 - VideoError and ContainerRefused are re-exported here
    Container,
    ContainerRefused,
    VideoError,
    check_video_file,
    opencv_capture,
    pyav_open,
)

# ffmpeg inside OpenCV prints decoder noise for broken files; our own message says it better.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

# Names a folder listing picks up; the content decides (MPEG-PS and WMV only with trusted=True).
VIDEO_SUFFIXES = (".mp4", ".avi", ".webm", ".mov", ".mkv", ".m4v", ".mpg", ".mpeg", ".wmv")
DEFAULT_MAX_FRAMES = 108_000  # analysed frames: one hour at 30 fps; raise it for longer videos
DEFAULT_MAX_DURATION_S = 3600.0  # seconds of video analysed; the rest is left out (and said so)
# Frames over 4096x2160 (DCI 4K) are refused: an 8192x8192 frame is 200 MB decoded, and faces
# are found at 320-640 px anyway.
MAX_VIDEO_PIXELS = 4096 * 2160
MAX_FPS = 1000.0  # containers that claim more are lying (e.g. a timebase read as a rate)
PROBE_FRAMES = 12  # frames whose timestamps give the real rate of a variable-rate video

ProgressFn = Callable[[int, "int | None"], None]  # (frames analysed, expected total or None)


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    width: int
    height: int
    fps: float
    frame_count: int  # as the container reports it; 0 when unknown (an estimate either way)
    codec: str
    backend: str  # "opencv" or "pyav": the decoder that will read the frames
    container: Container | None = None  # the demuxer forced on every open; None: a trusted file

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps if self.frame_count > 0 else 0.0


@dataclass(frozen=True)
class VideoFrame:
    index: int  # position in the source video
    t: float  # seconds from the first frame, from the frame's own timestamp
    rgb: np.ndarray
    dt: float = 0.0  # seconds since the previous sampled frame (the first: the nominal interval)


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

    def keep(self, index: int, t: float | None = None, t_prev: float | None = None) -> bool:
        """Whether to analyse frame `index` at time `t` (the previous decoded frame was at
        `t_prev`): every N-th by index, or the first frame of each 1/target_fps slot by time, so
        a variable frame rate is sampled evenly in time."""
        if self.target_fps is None:
            return index % self.every == 0
        if index == 0 or self._ratio >= 1.0:
            return True
        t = index / self.src_fps if t is None else t
        t_prev = (index - 1) / self.src_fps if t_prev is None else t_prev
        tol = 0.25 / self.src_fps  # timestamps rounded to the millisecond must not shift the slots
        return math.floor((t + tol) * self.target_fps) != math.floor((t_prev + tol) * self.target_fps)

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


def _reason(e: BaseException, path: Path) -> str:
    """A decoder's error text without the folder it ran in (PyAV names the whole path)."""
    return f"{type(e).__name__}: {e}".replace(os.path.abspath(path), path.name)


def check_dimensions(path: Path, width: int, height: int, max_pixels: int = MAX_VIDEO_PIXELS) -> None:
    """Refuse frames too large to decode safely, from the header, before the first is decoded."""
    if width <= 0 or height <= 0:
        raise VideoError(f"{path.name} reports no frame size ({width}x{height}); it is corrupt or not a video")
    if width * height > max_pixels:
        raise VideoError(f"{path.name} has {width}x{height} frames ({width * height / 1e6:.0f} MP); the limit is "
                         f"{max_pixels / 1e6:.1f} MP (4096x2160). Scale it down first, e.g. ffmpeg -vf scale=1280:-2")


def measured_fps(times: list[float], claimed: float) -> float:
    """The rate the first frames' timestamps show, where it disagrees with the container's claim
    by more than 10% (variable-rate WebM claims its 1 ms timebase, 1000 fps); else the claim."""
    gaps = np.diff(np.asarray(times, float))
    gaps = gaps[gaps > 0]
    if len(gaps) < 2:
        return claimed
    real = 1.0 / float(np.median(gaps))
    if not _valid_fps(claimed) or abs(real - claimed) > 0.1 * claimed:
        return real
    return claimed


def _probe_opencv(path: Path, max_pixels: int, container: Container) -> VideoInfo | None:
    import cv2

    cap = opencv_capture(path)
    try:
        if not cap.isOpened():
            return None
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if w > 0 and h > 0:
            check_dimensions(path, w, h, max_pixels)
        times = []
        for _ in range(PROBE_FRAMES):
            if not cap.grab():
                break
            times.append(cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0)
            if len(times) == 1:
                ok, frame = cap.retrieve()
                if not ok or frame is None:
                    return None
                check_dimensions(path, frame.shape[1], frame.shape[0], max_pixels)
                w, h = frame.shape[1], frame.shape[0]
        if not times:
            return None
        fourcc = int(cap.get(cv2.CAP_PROP_FOURCC))
        codec = "".join(chr((fourcc >> 8 * i) & 0xFF) for i in range(4)).strip("\x00 ") if fourcc else ""
        claimed = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        count = max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0))
        fps = measured_fps(times, claimed)
        if fps != claimed and _valid_fps(claimed):  # the count was duration x the claimed rate
            count = round(count / claimed * fps)
        return VideoInfo(path, w, h, fps, count, codec, "opencv", container)
    finally:
        cap.release()


def _probe_pyav(path: Path, max_pixels: int, container: Container | None) -> VideoInfo:
    """Second opinion where OpenCV fails; its errors name what is wrong with the file."""
    try:
        import av
    except ImportError:  # PyAV is optional: without it, OpenCV's failure is final
        raise VideoError(f"{path.name} is not a readable video (truncated, corrupt or unsupported format)")
    try:
        demuxed = pyav_open(path, container)
    except Exception:
        raise VideoError(f"{path.name} is not a readable video (truncated, corrupt or unsupported format)")
    with demuxed:
        if not demuxed.streams.video:
            if demuxed.streams.audio:
                raise VideoError(f"{path.name} has only audio, no video stream")
            raise VideoError(f"{path.name} has no video stream")
        stream = demuxed.streams.video[0]
        cc = stream.codec_context
        if cc.width and cc.height:
            check_dimensions(path, cc.width, cc.height, max_pixels)
        frames = []
        try:
            for frame in demuxed.decode(stream):
                if not frames:
                    check_dimensions(path, frame.width, frame.height, max_pixels)
                frames.append((frame.width, frame.height, frame.time))
                if len(frames) >= PROBE_FRAMES:
                    break
        except VideoError:
            raise
        except (av.error.FFmpegError, OSError, ValueError):  # no decodable frame: said below
            pass
        if not frames:
            raise VideoError(f"{path.name} has a video stream but no decodable frame (truncated or corrupt)")
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        claimed = float(rate) if rate else 0.0
        fps = measured_fps([t for _, _, t in frames if t is not None], claimed)
        count = int(stream.frames or 0)
        if not count and demuxed.duration and _valid_fps(fps):
            count = round(demuxed.duration / 1e6 * fps)
        return VideoInfo(path, frames[0][0], frames[0][1], fps, count, cc.name or "", "pyav", container)


def probe_video(path: str | Path, max_pixels: int = MAX_VIDEO_PIXELS, trusted: bool = False) -> VideoInfo:
    """Size, rate and length of a video, after `fer.video_guard` accepted it and one frame
    decoded. Raises `VideoError`. `trusted=True` (a local file of your own) skips the guard:
    any format FFmpeg reads, playlists included."""
    path = Path(path)
    container = check_video_file(path, trusted)
    try:
        info = ((_probe_opencv(path, max_pixels, container) if container else None)
                or _probe_pyav(path, max_pixels, container))
    except VideoError:
        raise
    except MemoryError:
        raise VideoError(f"{path.name} needs more memory to decode than this machine has free") from None
    except Exception as e:  # noqa: BLE001 - cv2.error, PyAV errors: the decoder gave up on this file
        raise VideoError(f"{path.name} could not be decoded ({_reason(e, path)})") from None
    return check_frame_rate(info)


def check_frame_rate(info: VideoInfo) -> VideoInfo:
    """Frame times come from the rate; a missing or absurd rate would make every duration wrong."""
    if not _valid_fps(info.fps):
        raise VideoError(f"{info.path.name} reports no usable frame rate ({info.fps:g} fps), so frame times "
                         "are unknown; re-encode it with a fixed rate (e.g. ffmpeg -r 30)")
    return info


class _Clock:
    """Frame times from the container's timestamps, from 0 at the first frame. A missing or
    non-increasing timestamp (some AVI and raw streams) falls back to the nominal interval."""

    def __init__(self, fps: float):
        self.step = 1.0 / fps
        self.origin: float | None = None
        self.last: float | None = None

    def __call__(self, stamp: float | None) -> float:
        if self.last is None:
            self.origin = stamp if stamp is not None and math.isfinite(stamp) else 0.0
            self.last = 0.0
            return 0.0
        t = stamp - self.origin if stamp is not None and math.isfinite(stamp) else None
        self.last = t if t is not None and t > self.last else self.last + self.step
        return self.last


def _read_opencv(info: VideoInfo, sampler: FrameSampler) -> Iterator[tuple[int, float, np.ndarray]]:
    import cv2

    cap = opencv_capture(info.path)
    clock = _Clock(info.fps)
    try:
        index, t_prev = 0, 0.0
        while cap.grab():  # every frame is decoded; only the sampled ones are converted
            t = clock(cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0)
            if sampler.keep(index, t, t_prev):
                ok, bgr = cap.retrieve()
                if not ok or bgr is None:
                    return
                if bgr.shape[1] * bgr.shape[0] > info.width * info.height:  # a stream that grows mid-way
                    check_dimensions(info.path, bgr.shape[1], bgr.shape[0])
                yield index, t, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            index, t_prev = index + 1, t
    finally:
        cap.release()


def _read_pyav(info: VideoInfo, sampler: FrameSampler) -> Iterator[tuple[int, float, np.ndarray]]:
    import av

    clock = _Clock(info.fps)
    with pyav_open(info.path, info.container) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        t_prev = 0.0
        try:
            for index, frame in enumerate(container.decode(stream)):
                t = clock(frame.time)
                if sampler.keep(index, t, t_prev):
                    if frame.width * frame.height > info.width * info.height:
                        check_dimensions(info.path, frame.width, frame.height)
                    yield index, t, frame.to_ndarray(format="rgb24")
                t_prev = t
        except av.error.InvalidDataError:  # a truncated tail: keep what decoded
            return


def iter_frames(video: str | Path | VideoInfo, every: int = 1, fps: float | None = None,
                max_frames: int | None = None, max_duration_s: float | None = None) -> Iterator[VideoFrame]:
    """Sampled RGB frames, decoded one at a time; stops at the end of the stream, after
    `max_frames` frames or past `max_duration_s` seconds. Decoder failures mid-stream
    (OpenCV or FFmpeg errors) become `VideoError`."""
    info = video if isinstance(video, VideoInfo) else probe_video(video)
    sampler = FrameSampler(info.fps, every, fps)
    reader = _read_opencv if info.backend == "opencv" else _read_pyav
    nominal = sampler.dt
    n, t_last = 0, None
    frames = reader(info, sampler)
    while True:
        try:
            item = next(frames, None)
        except VideoError:
            raise
        except MemoryError:
            raise VideoError(f"{info.path.name}: out of memory while decoding frame {n}") from None
        except Exception as e:  # noqa: BLE001 - cv2.error, av.error.FFmpegError, OSError from the file
            raise VideoError(f"{info.path.name}: decoding failed after {n} frames "
                             f"({_reason(e, info.path)})") from None
        if item is None:
            return
        index, t, rgb = item
        if (max_frames is not None and n >= max_frames) or (max_duration_s is not None and t >= max_duration_s):
            frames.close()
            return
        # A frame stands for the time since the previous sampled one; a jump (a frozen stream, a
        # broken timestamp) counts for at most a second or four intervals.
        dt = nominal if t_last is None else min(t - t_last, max(1.0, 4 * nominal))
        yield VideoFrame(index, t, rgb, dt)
        n, t_last = n + 1, t
