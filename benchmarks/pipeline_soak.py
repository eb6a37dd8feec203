"""Long runs of `EmotionPipeline` with faces arriving and leaving: the tracker's state and the
process's memory must stay bounded. `tests/test_soak.py` runs a few thousand frames; the
benchmark's `--soak N` runs as many as asked."""

from __future__ import annotations

import gc
import math
import time
from dataclasses import dataclass, field

import numpy as np

from benchmarks.pipeline_machine import rss_mb
from benchmarks.pipeline_scenes import astronaut_faces, background, paste, scaled_patches


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


def run_soak(recognizer, frames: int = 5000, size: tuple[int, int] = (320, 240), detect_every: int = 3,
             segment: int = 60, patches: list[np.ndarray] | None = None, warmup: int | None = None,
             seed: int = 0, fps_in: float = 30.0) -> SoakResult:
    """Drive EmotionPipeline with faces that appear, move and leave every `segment` frames.

    Memory is measured from the end of a warm-up (allocators and caches settle first) to the
    end; the tracker's live track count is sampled on every frame."""
    from fer.pipeline import EmotionPipeline, PipelineConfig

    w, h = size
    heads = scaled_patches(patches or astronaut_faces(), int(h * 0.55))
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
