"""Typed results of the pipeline benchmark, and how they print (Markdown) and save (JSON)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from benchmarks.pipeline_machine import Machine
from benchmarks.pipeline_soak import SoakResult

# Mean ms per frame per stage. The first five are `fer.results.StageTimings` (the pipeline
# times itself; "cut" is the scene-cut check, "classify" includes aligning the crops,
# "track_smooth" is its track_ms);
# "draw" is `EmotionAnnotator.annotate`, timed around the call.
STAGES = ("cut", "recheck", "detect", "classify", "track_smooth", "draw")
TIMING_FIELDS = {"cut": "cut_ms", "recheck": "recheck_ms", "detect": "detect_ms", "classify": "classify_ms",
                 "track_smooth": "track_ms"}


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
    detected_share: float  # frames on which MTCNN ran (scheduled or brought forward by the re-check)
    stage_ms: dict[str, float]  # mean ms per frame in each of STAGES, from the same frames


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
    notes: list[str] = field(default_factory=list)  # e.g. rows skipped, and why

    def to_dict(self) -> dict:
        return asdict(self)

    def to_markdown(self) -> str:
        m = self.machine
        load = f", 1-min load average {m.load_avg_1min:.1f} when started" if m.load_avg_1min is not None else ""
        lines = [
            (f"Machine: {m.cpu_model}, {m.usable_cores} usable cores ({m.logical_cores} logical, "
             f"{m.physical_cores} physical){load}; Python {m.python}, onnxruntime {m.onnxruntime}, "
             f"torch {m.torch or 'not installed'}; {m.threads} thread(s) per model call; {m.platform}"),
            f"Faces: {self.face_source}; {self.frames} timed frames per setting after {self.warmup} warm-up frames.",
            "",
        ]
        if self.runs:
            lines += [("| setting | frame | faces | detect every | detect side | classifier | frames/s | "
                       "p50 ms | p95 ms | faces seen | detected | cut | recheck | detect | classify | track+smooth | draw |"),
                      "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
            for r in self.runs:
                s = r.spec
                st = " | ".join(f"{r.stage_ms.get(k, float('nan')):.1f}" for k in STAGES)
                lines.append(f"| {s.name} | {s.size_text} | {s.faces} | {s.detect_every} | {s.max_side or 'full'} | "
                             f"{r.backend} | {r.fps:.1f} | {r.p50_ms:.1f} | {r.p95_ms:.1f} | "
                             f"{r.faces_per_frame:.2f} | {r.detected_share:.0%} | {st} |")
            lines += ["", ("Stage columns: mean ms per frame, from EmotionPipeline's own timings (classify "
                           "includes alignment) and the annotator's draw; detected: share of frames MTCNN ran on."), ""]
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
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines).rstrip() + "\n"
