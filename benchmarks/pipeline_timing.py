"""Timing the live pipeline as the app runs it: `EmotionPipeline.process` then
`EmotionAnnotator.annotate`, frame after frame. The pipeline times its own stages
(`FrameResult.timings`), so one pass gives both the headline figures and where the time goes;
nothing here repeats the pipeline's steps. Figures are measurements, never pass/fail.
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass, field, replace

import numpy as np

from benchmarks.pipeline_machine import machine_info, rss_mb
from benchmarks.pipeline_report import (
    STAGES,
    TIMING_FIELDS,
    BenchReport,
    ClassifierTiming,
    Memory,
    PhotoTiming,
    RunResult,
    RunSpec,
)
from benchmarks.pipeline_scenes import SceneMaker, face_patches
from benchmarks.pipeline_soak import run_soak

TORCH_SKIPPED = "PyTorch classifier rows skipped: torch is not installed (pip install 'fer-toolkit[train]')"


def torch_available() -> bool:
    """Whether the PyTorch comparison can run (the runtime ships without torch)."""
    return importlib.util.find_spec("torch") is not None


@dataclass
class Models:
    """One loaded MTCNN shared by detectors of every detection size, and classifiers by backend,
    loaded once. Thread counts come from `fer.runtime` (set it before loading)."""

    detector: object = None
    classifiers: dict = field(default_factory=dict)

    def recognizer(self, max_side: int, backend: str):
        from fer import runtime
        from fer.classifier import EmotionClassifier
        from fer.detection import DetectorConfig, FaceDetector
        from fer.recognizer import EmotionRecognizer

        if self.detector is None:
            self.detector = FaceDetector(DetectorConfig(max_side=max_side))
        if backend not in self.classifiers:
            self.classifiers[backend] = EmotionClassifier(backend=backend)
            runtime.apply_threads()  # torch, if this just loaded it, gets the one thread setting too
        detector = self.detector.with_config(replace(self.detector.config, max_side=max_side))
        return EmotionRecognizer(detector=detector, classifier=self.classifiers[backend])


def run_setting(spec: RunSpec, models: Models, patches: list[np.ndarray], frames: int = 300,
                warmup: int = 30, fps_in: float = 30.0) -> RunResult:
    """Time `frames` frames through EmotionPipeline + EmotionAnnotator after `warmup` frames."""
    from fer.annotate import EmotionAnnotator
    from fer.pipeline import EmotionPipeline, PipelineConfig

    rec = models.recognizer(spec.max_side, spec.backend)
    scenes = SceneMaker(spec.size, spec.faces, patches)
    pipeline = EmotionPipeline(rec, PipelineConfig(detect_every=spec.detect_every, recheck_score=spec.recheck_score))
    annotator = EmotionAnnotator()
    lat, seen, detected = [], 0, 0
    totals = dict.fromkeys(STAGES, 0.0)
    clock = time.perf_counter
    for i in range(warmup + frames):
        frame = scenes.frame(i)  # made outside the clock: a camera hands frames over for free
        t0 = clock()
        result = pipeline.process(frame, i / fps_in)
        t1 = clock()
        annotator.annotate(frame, result.faces)
        t2 = clock()
        if i < warmup:
            continue
        lat.append((t2 - t0) * 1000)
        seen += len(result.faces)
        detected += result.detected
        for k, name in TIMING_FIELDS.items():
            totals[k] += getattr(result.timings, name)
        totals["draw"] += (t2 - t1) * 1000
    lat_a = np.asarray(lat)
    n = max(1, frames)
    return RunResult(spec, rec.classifier.backend, frames, 1000 * len(lat_a) / lat_a.sum(), float(lat_a.mean()),
                     float(np.percentile(lat_a, 50)), float(np.percentile(lat_a, 95)), seen / n, detected / n,
                     {k: v / n for k, v in totals.items()})


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

    crops = [align_faces(p, models.detector.detect(p)) for p in patches]
    crops = [c for c in crops if len(c)]
    return np.concatenate(crops) if crops else np.full((1, 48, 48), 128, np.uint8)


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
                  face_source: str = "auto", classifier_batches: tuple[int, ...] = (1, 8),
                  classifier_repeats: int = 50, photo_repeats: int = 30, torch: bool | None = None,
                  progress=None) -> BenchReport:
    """Measure every spec, the classifier alone, `analyze` on a photo, memory, and optionally a
    soak run. The PyTorch rows run only where torch is installed (`torch=None`: look)."""
    say = progress or (lambda msg: None)
    torch = torch_available() if torch is None else torch
    backends = ("onnx", "torch") if torch else ("onnx",)
    rss_start = rss_mb()
    models = Models()
    models.recognizer(640, "auto")  # load once before measuring memory and choosing faces
    patches, source = face_patches(face_source, models.detector)
    for b in backends:
        models.recognizer(640, b)
    crops = face_crops(models, patches)
    rss_loaded = rss_mb()
    report = BenchReport(machine_info(), frames, warmup, source)
    if not torch:
        report.notes.append(TORCH_SKIPPED)
    for b in backends:
        for n in classifier_batches:
            say(f"classifier {b} batch {n}")
            report.classifier.append(time_classifier(models.classifiers[b], crops, n, classifier_repeats))
    for side, tta in ((640, "none"), (640, "flip_zoom"), (320, "none")):
        say(f"analyze photo: detect side {side}, TTA {tta}")
        report.photo.append(time_photo(models, patches, side, tta, repeats=photo_repeats))
    for spec in specs:
        if spec.backend == "torch" and not torch:
            continue
        say(f"{spec.name}: {spec.size_text}, {spec.faces} face(s), detect every {spec.detect_every}, "
            f"detect side {spec.max_side}, {spec.backend}")
        report.runs.append(run_setting(spec, models, patches, frames, warmup))
    if soak_frames:
        say(f"soak: {soak_frames} frames")
        report.soak = run_soak(models.recognizer(640, "auto"), soak_frames, patches=patches)
    report.memory = Memory(rss_start, rss_loaded, rss_mb())
    return report
