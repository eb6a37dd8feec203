"""Summary metrics on timelines with known content: every figure checked against its definition."""

from __future__ import annotations

import numpy as np
import pytest
import synthetic_faces
from conftest import DATA
from hypothesis import given, settings
from hypothesis import strategies as st
from synthetic_faces import timeline

from fer.insights import (
    InsightConfig,
    change_points,
    stress_share,
    summarize_track,
    summarize_video,
    summary_table,
)
from fer.labels import FER2013_LABELS
from fer.pipeline import PipelineConfig

CLIPS = DATA / "clips"

LABELS = FER2013_LABELS


def face(track_id: int, label: str, p: float = 0.9, x: float = 10.0):
    return synthetic_faces.face(track_id, label, p, x)


def test_time_shares_means_valence_and_confidence():
    # 3 s happy, 1 s sad, at 10 fps, one person.
    df = timeline([[face(1, "happy")]] * 30 + [[face(1, "sad", p=0.3)]] * 10)
    s = summarize_track(df, 1)
    assert s.seconds_on_screen == pytest.approx(4.0)
    assert s.time_share["happy"] == pytest.approx(0.75) and s.time_share["sad"] == pytest.approx(0.25)
    assert s.dominant == "happy"
    assert s.mean_probs["happy"] == pytest.approx(0.75 * 0.9 + 0.25 * (0.7 / 6))
    neg = ("angry", "disgust", "fear", "sad")
    expected = s.mean_probs["happy"] - sum(s.mean_probs[k] for k in neg)
    assert s.valence == pytest.approx(expected) and -1 <= s.valence <= 1
    assert s.mean_confidence == pytest.approx(0.75 * 0.9 + 0.25 * 0.3)
    assert s.low_confidence_share == pytest.approx(0.25)


def test_expressivity_is_zero_for_a_constant_face_and_grows_with_variation():
    still = summarize_track(timeline([[face(1, "neutral")]] * 40), 1)
    assert still.expressivity == pytest.approx(0.0, abs=1e-9)
    mild = summarize_track(timeline([[face(1, "neutral")]] * 30 + [[face(1, "happy")]] * 10), 1)
    lively = summarize_track(timeline([[face(1, e)] for e in ["happy", "sad", "surprise", "angry"] * 10]), 1)
    assert 0 < mild.expressivity < lively.expressivity < 1


def test_stress_counts_only_sustained_negative_runs():
    # 1 s angry (too short), 2 s neutral, 3 s sad (sustained), 1 s neutral.
    frames = [[face(1, "angry")]] * 10 + [[face(1, "neutral")]] * 20 + [[face(1, "sad")]] * 30 \
        + [[face(1, "neutral")]] * 10
    s = summarize_track(timeline(frames), 1, InsightConfig(stress_window_s=2.0))
    assert s.stress == pytest.approx(3.0 / 7.0)
    # A 1.5 s gap off screen breaks a run: 2 x 1.5 s of sadness is not 3 s of it.
    broken = [[face(1, "sad")]] * 15 + [[]] * 15 + [[face(1, "sad")]] * 15
    assert summarize_track(timeline(broken), 1).stress == 0.0


def test_change_points_find_the_switch_and_only_it():
    frames = [[face(1, "happy")]] * 30 + [[face(1, "surprise")]] * 30
    s = summarize_track(timeline(frames), 1)
    assert len(s.change_points) == 1
    cp = s.change_points[0]
    assert cp.t == pytest.approx(3.0, abs=0.15) and (cp.before, cp.after) == ("happy", "surprise")
    assert cp.magnitude == pytest.approx(0.9 - 0.1 / 6, abs=0.02)
    assert summarize_track(timeline([[face(1, "happy")]] * 60), 1).change_points == []


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(LABELS), min_size=2, max_size=60))
def test_metrics_stay_in_range(seq):
    s = summarize_track(timeline([[face(1, e, p=0.6)] for e in seq]), 1)
    assert sum(s.time_share.values()) == pytest.approx(1.0)
    assert sum(s.mean_probs.values()) == pytest.approx(1.0)
    assert -1 <= s.valence <= 1 and 0 <= s.expressivity < 1 and 0 <= s.stress <= 1
    assert all(0 <= c.magnitude <= 1 for c in s.change_points)
    times = [c.t for c in s.change_points]
    assert all(b - a >= 1.0 - 1e-9 for a, b in zip(times, times[1:]))


def test_video_summary_drops_short_tracks_and_counts_faceless_frames():
    frames = [[face(1, "happy"), face(2, "sad", x=200)]] * 20 + [[face(1, "happy"), face(3, "fear", x=400)]] \
        + [[]] * 9
    v = summarize_video(timeline(frames), "clip.mp4", InsightConfig(min_track_s=0.5))
    assert [p.track_id for p in v.people] == [1, 2]
    assert v.short_tracks_dropped == 1
    assert v.frames_analysed == 30 and v.frames_without_face == 9
    assert v.share_without_face == pytest.approx(0.3)
    assert v.duration_s == pytest.approx(3.0)
    assert v.main_person.track_id == 1
    d = v.to_dict()
    assert d["people"][0]["time_share"]["happy"] == 1.0 and d["labels"] == list(LABELS)
    row = v.row()
    assert row["people"] == 2 and row["dominant"] == "happy" and row["share_happy"] == 1.0
    table = summary_table([v, summarize_video(timeline([[]] * 5), "empty.mp4")])
    assert table["video"].tolist() == ["clip.mp4", "empty.mp4"]
    assert table.loc[1, "people"] == 0 and table.loc[1, "share_without_face"] == 1.0


def test_low_level_helpers_on_arrays():
    t = np.arange(50) * 0.1
    dt = np.full(50, 0.1)
    neg = np.r_[np.zeros(10), np.ones(25), np.zeros(15)]
    assert stress_share(t, dt, neg, 0.5, 2.0) == pytest.approx(0.5)
    assert stress_share(t, dt, neg, 0.5, 3.0) == 0.0
    s = np.zeros((50, 2))
    s[:25, 0] = 1
    s[25:, 1] = 1
    cps = change_points(t, dt, s, ("a", "b"), 1.0, 0.35, 1.0)
    assert len(cps) == 1 and cps[0].t == pytest.approx(2.5) and cps[0].magnitude == pytest.approx(1.0)


# --- change points on what the chart shows (issue 13.5: 'Changes 0' beside a clear swing) ----------

def test_a_change_in_strength_alone_is_not_a_change_point():
    """Happy at 0.5 then happy at 0.95: the windows differ by 0.45 but the expression is the same."""
    frames = [[face(1, "happy", p=0.5)]] * 30 + [[face(1, "happy", p=0.95)]] * 30
    assert summarize_track(timeline(frames), 1).change_points == []


def test_change_points_read_raw_probabilities_not_the_smoothed_ones():
    """Raw sad for 1 s then happy; the smoothed columns lag (as EmotionSmoother's do). The windows
    are the smoothing: the switch is found at 1 s in the raw columns even when the smoothed ones
    never cross over inside the window."""
    from dataclasses import replace

    from fer.results import FrameResult
    from fer.timeline import TimelineBuilder

    b = TimelineBuilder(LABELS)
    for i in range(40):
        raw = face(1, "sad" if i < 10 else "happy", p=0.7)
        lagging = replace(face(1, "sad", p=0.6), raw_probs=raw.probs)  # smoothing that has not caught up
        b.add(FrameResult(i, i * 0.1, [lagging], True, dt=0.1))
    s = summarize_track(b.to_frame(), 1)
    assert [(round(c.t, 1), c.before, c.after) for c in s.change_points] == [(1.0, "sad", "happy")]


@pytest.mark.skipif(not (CLIPS / "fer_test_clip.mp4").is_file(), reason=f"clip not found in {CLIPS}")
def test_the_sad_to_happy_swing_in_the_real_clip_is_a_change_point(recognizer):
    """fer_test_clip.mp4 (4.7 s): sad from ~0.3 s, happy from ~1.1 s, as the chart shows. The old
    rule (window means of the smoothed probabilities) scored it 0.28 and reported no change."""
    from fer.analysis import AnalysisOptions, analyze_video

    df = analyze_video(CLIPS / "fer_test_clip.mp4", recognizer, AnalysisOptions(pipeline=PipelineConfig(detect_every=3))).timeline
    people = summarize_video(df, "fer_test_clip.mp4").people
    assert len(people) == 1
    swings = [(c.before, c.after) for c in people[0].change_points if 0.6 <= c.t <= 2.5]
    assert ("sad", "happy") in swings, people[0].change_points
