"""Scene cuts on the real clips, and what they change for video analysis: nobody's id crosses a cut."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
from clips import ONE_PERSON, SEVERAL, needs_clips

from fer.scenecut import SceneCutDetector
from fer.video import iter_frames

# The edited clip's cuts, found by looking at it: the stage in a wide shot, a man in profile,
# the performer close up, the audience.
HAMILTON_CUTS = [20, 82, 211]


def cuts(path) -> list[int]:
    detector = SceneCutDetector()
    return [f.index for f in iter_frames(path) if detector.update(f.rgb)]


@needs_clips
def test_the_cuts_of_an_edited_clip_and_none_in_a_continuous_shot():
    assert cuts(SEVERAL) == HAMILTON_CUTS
    assert cuts(ONE_PERSON) == []  # a face turning, city lights moving: one shot


def test_a_light_switched_on_is_not_a_cut(astronaut):
    """Hue and saturation are compared, so a much brighter frame of the same scene is one shot."""
    detector = SceneCutDetector()
    detector.update(astronaut)
    brighter = np.clip(astronaut.astype(np.float32) * 1.8 + 30, 0, 255).astype(np.uint8)
    assert not detector.update(brighter)
    assert detector.update(np.full_like(astronaut, (20, 120, 40)))  # another scene


@needs_clips
def test_video_people_keep_one_id_each_and_no_id_crosses_a_cut(tmp_path):
    """`fer video` as a user runs it. Seven people are on screen in the clip: the performer (in
    two shots, so two ids: nothing but place links faces), an audience member at the bottom left of
    the wide shot, a man in profile and four in the audience. Before cuts were seen, the
    performer's id went on to an audience face sitting where his had been."""
    done = subprocess.run([sys.executable, "-m", "fer", "video", str(SEVERAL), "--out", str(tmp_path)],
                          check=False, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    faces = pd.read_csv(tmp_path / f"{SEVERAL.stem}_timeline.csv").dropna(subset=["track_id"])
    shot = np.searchsorted(HAMILTON_CUTS, faces["frame"].to_numpy(), side="right")
    shots_per_person = faces.assign(shot=shot).groupby("track_id")["shot"].nunique()
    assert (shots_per_person == 1).all(), shots_per_person.to_dict()
    seconds = faces.groupby("track_id")["dt_s"].sum()
    assert 6 <= (seconds >= 0.5).sum() <= 8, seconds.to_dict()  # within one of the people on screen
    assert not faces.duplicated(["frame", "track_id"]).any()  # no two faces of a frame share an id
