"""Long runs: thousands of frames with faces arriving and leaving must not grow the tracker's
state or the process's memory. Small frames and sparse detection keep it quick; the same
code runs 50,000 frames in the benchmark (`python -m fer bench --soak 50000`)."""

from __future__ import annotations

import os

from benchmarks.pipeline_soak import run_soak

FRAMES = int(os.environ.get("FER_SOAK_FRAMES", "5000"))
SEGMENT = 50  # frames between scene changes: faces leave, others arrive elsewhere
DETECT_EVERY = 10


def test_soak_tracks_stay_bounded_and_memory_flat(recognizer):
    r = run_soak(recognizer, frames=FRAMES, size=(192, 144), detect_every=DETECT_EVERY, segment=SEGMENT)
    assert r.frames == FRAMES
    # Faces really came and went: many distinct tracks over the run ...
    assert r.tracks_created >= FRAMES // SEGMENT // 5, r
    # ... yet the tracker held only those on screen plus the few it waits for (lost_s=3 s,
    # i.e. about 2 segments of 50 frames at 30 fps): never more than 2 faces x 3 segments.
    assert r.max_active_tracks <= 6, r
    assert r.max_active_tracks < r.tracks_created
    # Memory: measured from the end of warm-up to the end, after garbage collection.
    assert r.rss_growth_mb < 25, r
