"""Speed and stability benchmarks of the live pipeline on generated scenes with real faces.

The figures users care about are frames/s and latency through the same `EmotionPipeline` plus
`EmotionAnnotator` the app runs, so that is what is timed. A second pass repeats the
pipeline's steps in the same order with a clock around each stage, to show where the time
goes. Figures are printed, never asserted: a benchmark on a shared CPU is a measurement, not
a pass/fail test.
"""

from __future__ import annotations

import math
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from fer.data.locations import DATA_ROOT as DATA  # one place defines where data is looked for

# The astronaut's face with some hair and collar around it, so MTCNN sees a whole head.
ASTRONAUT_FACE = (slice(0, 250), slice(110, 340))
STAGES = ("detect", "align", "classify", "track_smooth", "draw")


# ----------------------------------------------------------------------------------------
# Typed results


@dataclass(frozen=True)
class Machine:
    cpu_model: str
    logical_cores: int
    physical_cores: int | None
    usable_cores: int
    load_avg_1min: float | None  # other work on the machine while we measured
    python: str
    torch: str
    torch_threads: int
    onnxruntime: str | None
    platform: str


@dataclass(frozen=True)
class RunSpec:
    """One pipeline setting to measure."""

    name: str
    size: tuple[int, int]  # (width, height)
    faces: int
    detect_every: int = 3
    max_side: int = 640
    backend: str = "auto"
    recheck_score: float = 0.5  # PipelineConfig.recheck_score; 0 = reused boxes are not re-checked

    @property
    def size_text(self) -> str:
        return f"{self.size[0]}x{self.size[1]}"


@dataclass(frozen=True)
class RunResult:
    spec: RunSpec
    backend: str  # what "auto" resolved to
    frames: int
    fps: float  # sustained: frames / total time in pipeline + draw
    mean_ms: float
    p50_ms: float
    p95_ms: float
    faces_per_frame: float  # faces the pipeline reported, averaged (checks the scene is seen)
    stage_ms: dict[str, float]  # mean ms per frame spent in each stage (second, instrumented pass)


@dataclass(frozen=True)
class ClassifierTiming:
    backend: str
    batch: int
    ms_per_batch: float  # median over repeats
    ms_per_face: float


@dataclass(frozen=True)
class PhotoTiming:
    """`EmotionRecognizer.analyze` on one still photo: decode-free, detection + classification."""

    size: tuple[int, int]
    detect_side: int
    tta: str
    faces: int  # faces found (checks the photo is seen)
    ms: float  # median over repeats


@dataclass(frozen=True)
class Memory:
    rss_start_mb: float  # before any model is loaded
    rss_loaded_mb: float  # detector and classifiers loaded, warmed up
    rss_end_mb: float  # after every run


@dataclass(frozen=True)
class SoakResult:
    frames: int
    seconds: float
    fps: float
    size: tuple[int, int]
    detect_every: int
    tracks_created: int  # distinct track ids seen: faces did come and go
    max_active_tracks: int  # what the tracker held at most: must stay bounded
    final_active_tracks: int
    rss_baseline_mb: float  # after warm-up
    rss_end_mb: float
    rss_growth_mb: float
    rss_samples_mb: list[float] = field(default_factory=list)


@dataclass
class BenchReport:
    machine: Machine
    frames: int
    warmup: int
    face_source: str
    runs: list[RunResult] = field(default_factory=list)
    classifier: list[ClassifierTiming] = field(default_factory=list)
    photo: list[PhotoTiming] = field(default_factory=list)
    memory: Memory | None = None
    soak: SoakResult | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    def to_markdown(self) -> str:
        m = self.machine
        load = f", 1-min load average {m.load_avg_1min:.1f} when started" if m.load_avg_1min is not None else ""
        lines = [
            f"Machine: {m.cpu_model}, {m.usable_cores} usable cores ({m.logical_cores} logical, "
            f"{m.physical_cores} physical){load}; Python {m.python}, torch {m.torch} "
            f"({m.torch_threads} threads), onnxruntime {m.onnxruntime}; {m.platform}",
            f"Faces: {self.face_source}; {self.frames} timed frames per setting after {self.warmup} warm-up frames.",
            "",
        ]
        if self.runs:
            lines += ["| setting | frame | faces | detect every | detect side | classifier | frames/s | "
                      "p50 ms | p95 ms | faces seen | detect | align | classify | track+smooth | draw |",
                      "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
            for r in self.runs:
                s = r.spec
                st = " | ".join(f"{r.stage_ms.get(k, float('nan')):.1f}" for k in STAGES)
                lines.append(f"| {s.name} | {s.size_text} | {s.faces} | {s.detect_every} | {s.max_side or 'full'} | "
                             f"{r.backend} | {r.fps:.1f} | {r.p50_ms:.1f} | {r.p95_ms:.1f} | "
                             f"{r.faces_per_frame:.2f} | {st} |")
            lines += ["", "Stage columns: mean ms per frame (detection runs on every k-th frame only).", ""]
        if self.classifier:
            lines += ["| classifier | batch | ms per batch | ms per face |", "|---|---|---|---|"]
            lines += [f"| {c.backend} | {c.batch} | {c.ms_per_batch:.2f} | {c.ms_per_face:.2f} |"
                      for c in self.classifier]
            lines.append("")
        if self.photo:
            lines += ["| analyze() on a photo | detect side | TTA | faces | ms |", "|---|---|---|---|---|"]
            lines += [f"| {p.size[0]}x{p.size[1]} | {p.detect_side} | {p.tta} | {p.faces} | {p.ms:.1f} |"
                      for p in self.photo]
            lines.append("")
        if self.memory:
            mem = self.memory
            lines.append(f"Resident memory: {mem.rss_start_mb:.0f} MB before loading, {mem.rss_loaded_mb:.0f} MB "
                         f"with models loaded, {mem.rss_end_mb:.0f} MB after all runs.")
        if self.soak:
            s = self.soak
            lines.append(f"Soak: {s.frames} frames at {s.size[0]}x{s.size[1]} (detect every {s.detect_every}) in "
                         f"{s.seconds:.0f} s ({s.fps:.0f} frames/s); {s.tracks_created} tracks came and went, at most "
                         f"{s.max_active_tracks} held at once, {s.final_active_tracks} at the end; resident memory "
                         f"{s.rss_baseline_mb:.0f} -> {s.rss_end_mb:.0f} MB ({s.rss_growth_mb:+.1f} MB).")
        return "\n".join(lines).rstrip() + "\n"


# ----------------------------------------------------------------------------------------
# Machine and memory


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> Machine:
    import psutil
    import torch

    try:
        import onnxruntime

        ort_version = onnxruntime.__version__
    except ImportError:
        ort_version = None
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 1
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return Machine(cpu_model(), os.cpu_count() or 1, psutil.cpu_count(logical=False), usable, load,
                   platform.python_version(), torch.__version__, torch.get_num_threads(), ort_version,
                   platform.platform(terse=True))


# ----------------------------------------------------------------------------------------
# Scenes


def astronaut_faces() -> list[np.ndarray]:
    """The astronaut's head, and its mirror image so four faces are not all identical."""
    from skimage import data

    head = np.ascontiguousarray(data.astronaut()[ASTRONAUT_FACE])
    return [head, np.ascontiguousarray(head[:, ::-1])]


def fer2013_faces(root: Path = DATA / "fer2013", n: int = 4, detector=None) -> list[np.ndarray]:
    """FER-2013 test faces, upscaled 4x and padded like a head in a photo. With a detector,
    only faces MTCNN finds on their own are kept, so the scene holds as many faces as asked."""
    classes = ["happy", "surprise", "neutral", "sad", "angry", "fear"]
    files = [sorted((root / "test" / c).glob("*.jpg"))[:6] for c in classes]
    out = []
    for group in zip(*files):  # one of each class in turn
        for path in group:
            grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            if grey is None:
                continue
            big = cv2.resize(grey, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
            pad = big.shape[0] // 3
            big = cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
            rgb = np.repeat(big[..., None], 3, 2)
            if detector is not None and len(detector.detect(rgb)) != 1:
                continue
            out.append(rgb)
            if len(out) == n:
                return out
    return out


def face_patches(source: str = "auto", detector=None) -> tuple[list[np.ndarray], str]:
    """Face images for the scenes and a description: FER-2013 where the data is, else the astronaut."""
    if source in ("auto", "fer2013") and (DATA / "fer2013" / "test").is_dir():
        faces = fer2013_faces(detector=detector)
        if len(faces) >= 1:
            return faces, f"{len(faces)} FER-2013 test faces, upscaled 4x"
    if source == "fer2013":
        raise FileNotFoundError(f"FER-2013 not found at {DATA / 'fer2013'}")
    return astronaut_faces(), "skimage.data.astronaut() head (and its mirror image)"


def background(size: tuple[int, int]) -> np.ndarray:
    """A soft two-tone gradient with a little texture: something for MTCNN to reject."""
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = 90 + 60 * (x / w) + 30 * np.sin(y / 37.0)
    rgb = np.stack([base, base * 0.9 + 20, base * 0.8 + 30], -1)
    noise = np.random.default_rng(0).normal(0, 4, rgb.shape)
    return np.clip(rgb + noise, 0, 255).astype(np.uint8)


@dataclass
class SceneMaker:
    """Frames of `size` holding `faces` heads laid out on a grid, drifting a few pixels per frame."""

    size: tuple[int, int]
    faces: int
    patches: list[np.ndarray]
    drift_px: float = 6.0

    def __post_init__(self):
        w, h = self.size
        self._bg = background(self.size)
        cols = math.ceil(math.sqrt(self.faces)) if self.faces else 1
        rows = math.ceil(self.faces / cols) if self.faces else 1
        cell_w, cell_h = w / cols, h / rows
        self._slots = []
        for i in range(self.faces):
            patch = self.patches[i % len(self.patches)]
            scale = min(0.8 * cell_h / patch.shape[0], 0.8 * cell_w / patch.shape[1])
            p = cv2.resize(patch, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            cx, cy = (i % cols + 0.5) * cell_w, (i // cols + 0.5) * cell_h
            self._slots.append((p, cx, cy, i * 1.3))

    def frame(self, index: int) -> np.ndarray:
        scene = self._bg.copy()
        for p, cx, cy, phase in self._slots:
            dx = self.drift_px * math.sin(index / 9.0 + phase)
            dy = self.drift_px * 0.5 * math.cos(index / 13.0 + phase)
            paste(scene, p, cx + dx - p.shape[1] / 2, cy + dy - p.shape[0] / 2)
        return scene


def paste(scene: np.ndarray, patch: np.ndarray, x: float, y: float) -> None:
    """Copy `patch` with its top-left corner at (x, y), clipped to the scene."""
    h, w = scene.shape[:2]
    x0, y0 = int(round(x)), int(round(y))
    sx0, sy0 = max(0, -x0), max(0, -y0)
    x1, y1 = min(w, x0 + patch.shape[1]), min(h, y0 + patch.shape[0])
    if x1 <= max(0, x0) or y1 <= max(0, y0):
        return
    scene[max(0, y0):y1, max(0, x0):x1] = patch[sy0:sy0 + y1 - max(0, y0), sx0:sx0 + x1 - max(0, x0)]


# ----------------------------------------------------------------------------------------
# Timing


class StagedPipeline:
    """`EmotionPipeline.process` step by step with a clock around each stage. Same order, same
    components (recognizer.detect, align_faces, classifier.predict_proba, IoUTracker,
    EmotionSmoother), its own state; the headline figures still come from the real pipeline."""

    def __init__(self, recognizer, config, annotator):
        from fer.smoothing import EmotionSmoother
        from fer.tracking import IoUTracker

        self.recognizer, self.config, self.annotator = recognizer, config, annotator
        self.tracker = IoUTracker(max_missed=config.max_missed)
        self.smoother = EmotionSmoother(config.half_life_s, config.switch_margin)
        self.index = 0
        self.since_detection = max(1, config.detect_every)  # the first frame is due for detection
        self.faces: list = []
        self.ids: list = []

    def process(self, frame: np.ndarray, t: float) -> dict[str, float]:
        from dataclasses import replace

        from fer.align import align_faces
        from fer.pipeline import needs_detection
        from fer.results import FaceEmotion

        rec, clock, out = self.recognizer, time.perf_counter, dict.fromkeys(STAGES, 0.0)
        t0 = clock()
        # the re-check of reused boxes counts as detection
        detected = needs_detection(self.config, rec.detector, frame, self.faces, self.since_detection)
        if detected:
            self.faces = rec.detect(frame)
            self.since_detection = 0
        self.since_detection += 1
        t1 = clock()
        crops = align_faces(frame, self.faces, rec.classifier.input_size) if self.faces else None
        t2 = clock()
        raw = []
        if self.faces:
            probs = rec.classifier.predict_proba(crops)
            raw = [FaceEmotion.from_face(f, rec.labels, p) for f, p in zip(self.faces, probs)]
        t3 = clock()
        if detected:
            raw = self.tracker.update(raw)
            self.ids = [f.track_id for f in raw]
        else:
            raw = [replace(f, track_id=i) for f, i in zip(raw, self.ids)]
        faces = self.smoother.update(raw, t) if self.config.smoothing else raw
        t4 = clock()
        self.annotator.annotate(frame, faces)
        t5 = clock()
        self.index += 1
        for k, a, b in zip(STAGES, (t0, t1, t2, t3, t4), (t1, t2, t3, t4, t5)):
            out[k] = (b - a) * 1000
        return out


@dataclass
class Models:
    """Detectors by detection size and classifiers by backend, loaded once and shared."""

    threads: int | None = None  # ONNX Runtime intra-op threads; None: the classifier's default
    detectors: dict = field(default_factory=dict)
    classifiers: dict = field(default_factory=dict)

    def recognizer(self, max_side: int, backend: str):
        from fer.classifier import EmotionClassifier
        from fer.detection import DetectorConfig, FaceDetector
        from fer.recognizer import EmotionRecognizer

        if max_side not in self.detectors:
            self.detectors[max_side] = FaceDetector(DetectorConfig(max_side=max_side))
        if backend not in self.classifiers:
            self.classifiers[backend] = EmotionClassifier(backend=backend, threads=self.threads)
        return EmotionRecognizer(detector=self.detectors[max_side], classifier=self.classifiers[backend])


def run_setting(spec: RunSpec, models: Models, patches: list[np.ndarray], frames: int = 300,
                warmup: int = 30, fps_in: float = 30.0, stage_frames: int | None = None) -> RunResult:
    """Time `frames` frames through EmotionPipeline + EmotionAnnotator after `warmup` frames."""
    from fer.annotate import EmotionAnnotator
    from fer.pipeline import EmotionPipeline, PipelineConfig

    rec = models.recognizer(spec.max_side, spec.backend)
    config = PipelineConfig(detect_every=spec.detect_every, recheck_score=spec.recheck_score)
    scenes = SceneMaker(spec.size, spec.faces, patches)
    pipeline, annotator = EmotionPipeline(rec, config), EmotionAnnotator()
    lat, seen = [], 0
    for i in range(warmup + frames):
        frame = scenes.frame(i)  # made outside the clock: a camera hands frames over for free
        t0 = time.perf_counter()
        result = pipeline.process(frame, i / fps_in)
        annotator.annotate(frame, result.faces)
        dt = time.perf_counter() - t0
        if i >= warmup:
            lat.append(dt * 1000)
            seen += len(result.faces)
    staged = StagedPipeline(rec, config, annotator)
    n_stage = frames if stage_frames is None else stage_frames
    totals = dict.fromkeys(STAGES, 0.0)
    for i in range(n_stage):
        for k, v in staged.process(scenes.frame(i), i / fps_in).items():
            totals[k] += v
    lat_a = np.asarray(lat)
    return RunResult(spec, rec.classifier.backend, frames, 1000 * len(lat_a) / lat_a.sum(), float(lat_a.mean()),
                     float(np.percentile(lat_a, 50)), float(np.percentile(lat_a, 95)), seen / max(1, frames),
                     {k: v / max(1, n_stage) for k, v in totals.items()})


def time_classifier(classifier, crops: np.ndarray, batch: int, repeats: int = 50) -> ClassifierTiming:
    x = np.resize(crops, (batch, *crops.shape[1:]))
    for _ in range(5):
        classifier.predict_proba(x)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        classifier.predict_proba(x)
        times.append((time.perf_counter() - t0) * 1000)
    ms = float(np.median(times))
    return ClassifierTiming(classifier.backend, batch, ms, ms / batch)


def time_photo(models: Models, patches: list[np.ndarray], detect_side: int, tta: str,
               size: tuple[int, int] = (640, 480), repeats: int = 30) -> PhotoTiming:
    """Median time of `analyze` on one photo with one face, as the photo tab and CLI run it."""
    rec = models.recognizer(detect_side, "auto")
    photo = SceneMaker(size, 1, patches).frame(0)
    faces = len(rec.analyze(photo, tta=tta))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        rec.analyze(photo, tta=tta)
        times.append((time.perf_counter() - t0) * 1000)
    return PhotoTiming(size, detect_side, tta, faces, float(np.median(times)))


def face_crops(models: Models, patches: list[np.ndarray]) -> np.ndarray:
    """Aligned crops of the benchmark faces, as the classifier sees them in the pipeline."""
    from fer.align import align_faces

    det = next(iter(models.detectors.values()))
    crops = [align_faces(p, det.detect(p)) for p in patches]
    crops = [c for c in crops if len(c)]
    return np.concatenate(crops) if crops else np.full((1, 48, 48), 128, np.uint8)


# ----------------------------------------------------------------------------------------
# Soak


def soak_patches(patches: list[np.ndarray], height: int) -> list[np.ndarray]:
    out = []
    for p in patches:
        s = height / p.shape[0]
        out.append(cv2.resize(p, None, fx=s, fy=s, interpolation=cv2.INTER_AREA))
    return out


def run_soak(recognizer, frames: int = 5000, size: tuple[int, int] = (320, 240), detect_every: int = 3,
             segment: int = 60, patches: list[np.ndarray] | None = None, warmup: int | None = None,
             seed: int = 0, fps_in: float = 30.0) -> SoakResult:
    """Drive EmotionPipeline with faces that appear, move and leave every `segment` frames.

    Memory is measured from the end of a warm-up (allocators and caches settle first) to the
    end; the tracker's live track count is sampled on every frame."""
    import gc

    from fer.pipeline import EmotionPipeline, PipelineConfig

    w, h = size
    heads = soak_patches(patches or astronaut_faces(), int(h * 0.55))
    bg, rng = background(size), np.random.default_rng(seed)
    pipeline = EmotionPipeline(recognizer, PipelineConfig(detect_every=detect_every))
    warmup = min(500, frames // 10) if warmup is None else warmup
    ids, max_active, samples, baseline = set(), 0, [], None
    layout: list[tuple[np.ndarray, float, float]] = []
    t_start = time.perf_counter()
    for i in range(frames):
        if i % segment == 0:  # faces leave; 0-2 others arrive somewhere else
            n = int(rng.integers(0, 3))
            slots = rng.permutation(2)[:n]
            layout = [(heads[int(rng.integers(len(heads)))], (0.25 + 0.5 * s) * w, h / 2 + rng.uniform(-0.1, 0.1) * h)
                      for s in slots]
        scene = bg.copy()
        for p, cx, cy in layout:
            paste(scene, p, cx - p.shape[1] / 2 + 3 * math.sin(i / 7), cy - p.shape[0] / 2)
        result = pipeline.process(scene, i / fps_in)
        ids.update(f.track_id for f in result.faces if f.track_id is not None)
        max_active = max(max_active, len(pipeline.tracker.active_ids))
        if i + 1 == warmup:
            gc.collect()
            baseline = rss_mb()
        if (i + 1) % max(1, frames // 20) == 0:
            samples.append(round(rss_mb(), 1))
    seconds = time.perf_counter() - t_start
    gc.collect()
    end = rss_mb()
    baseline = end if baseline is None else baseline
    return SoakResult(frames, seconds, frames / seconds, size, detect_every, len(ids), max_active,
                      len(pipeline.tracker.active_ids), baseline, end, end - baseline, samples)


# ----------------------------------------------------------------------------------------
# The whole benchmark


def default_specs(sizes: list[tuple[int, int]], faces: list[int], detect_every: int = 3,
                  compare: bool = True) -> list[RunSpec]:
    """Defaults at every size and face count; on the first size with one face, each setting
    changed alone: detect every frame, detect at 320 px, the PyTorch classifier, no re-check."""
    specs = [RunSpec("default", s, n, detect_every) for s in sizes for n in faces]
    if compare and sizes and faces:
        s, n = sizes[0], faces[0]
        if detect_every != 1:
            specs.append(RunSpec("detect every frame", s, n, 1))
        specs.append(RunSpec("detect at 320 px", s, n, detect_every, max_side=320))
        specs.append(RunSpec("torch classifier", s, n, detect_every, backend="torch"))
        if detect_every != 1:
            specs.append(RunSpec("no re-check of reused boxes", s, n, detect_every, recheck_score=0))
        if len(faces) > 1 and detect_every != 1:
            specs.append(RunSpec("detect every frame", s, faces[-1], 1))
    return specs


def run_benchmark(specs: list[RunSpec], frames: int = 300, warmup: int = 30, soak_frames: int = 0,
                  face_source: str = "auto", classifier_backends: tuple[str, ...] = ("onnx", "torch"),
                  classifier_batches: tuple[int, ...] = (1, 8), classifier_repeats: int = 50,
                  threads: int | None = None,
                  progress=None) -> BenchReport:
    """Measure every spec, the classifier alone, memory, and optionally a soak run.

    `threads` sets PyTorch's and ONNX Runtime's thread counts for the whole process (this
    is a process-wide setting, so only the CLI entry point should pass it)."""
    say = progress or (lambda msg: None)
    if threads:
        import torch

        torch.set_num_threads(threads)
    rss_start = rss_mb()
    machine = machine_info()
    models = Models(threads)
    models.recognizer(640, "auto")  # load once before measuring memory and choosing faces
    patches, source = face_patches(face_source, models.detectors[640])
    for b in classifier_backends:
        models.recognizer(640, b)
    crops = face_crops(models, patches)
    rss_loaded = rss_mb()
    report = BenchReport(machine, frames, warmup, source)
    for b in classifier_backends:
        for n in classifier_batches:
            say(f"classifier {b} batch {n}")
            report.classifier.append(time_classifier(models.classifiers[b], crops, n, classifier_repeats))
    for side, tta in ((640, "none"), (640, "flip_zoom"), (320, "none")):
        say(f"analyze photo: detect side {side}, TTA {tta}")
        report.photo.append(time_photo(models, patches, side, tta))
    for spec in specs:
        say(f"{spec.name}: {spec.size_text}, {spec.faces} face(s), detect every {spec.detect_every}, "
            f"detect side {spec.max_side}, {spec.backend}")
        report.runs.append(run_setting(spec, models, patches, frames, warmup))
    if soak_frames:
        say(f"soak: {soak_frames} frames")
        report.soak = run_soak(models.recognizer(640, "auto"), soak_frames, patches=patches)
    report.memory = Memory(rss_start, rss_loaded, rss_mb())
    return report


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """'640x480,1280x720' -> [(640, 480), (1280, 720)]."""
    out = []
    for part in text.split(","):
        try:
            w, h = (int(v) for v in part.lower().strip().split("x"))
        except ValueError:
            raise ValueError(f"frame size {part!r} is not WIDTHxHEIGHT, e.g. 640x480") from None
        if w < 32 or h < 32:
            raise ValueError(f"frame size {part!r} is too small (at least 32x32)")
        out.append((w, h))
    return out
