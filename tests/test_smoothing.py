"""EmotionSmoother on synthetic probability sequences: spikes are ignored, lasting changes
come through within about one half-life, whatever the frame rate; stale tracks are dropped."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from fer.labels import FER2013_LABELS
from fer.results import FaceEmotion
from fer.smoothing import EmotionSmoother


def face(label: str, p: float = 0.9, track_id: int | None = 1) -> FaceEmotion:
    """A face whose classifier says `label` with probability p, the rest spread evenly."""
    rest = (1 - p) / (len(FER2013_LABELS) - 1)
    probs = {k: (p if k == label else rest) for k in FER2013_LABELS}
    return FaceEmotion((0, 0, 50, 50), 0.99, np.full((5, 2), np.nan, np.float32), probs, label, track_id)


def run(smoother: EmotionSmoother, labels: list[str], fps: float, t0: float = 0.0) -> list[FaceEmotion]:
    return [smoother.update([face(lab)], t0 + i / fps)[0] for i, lab in enumerate(labels)]


def switch_time(fps: float, half_life: float = 0.5) -> float:
    """Seconds after a lasting change from neutral to happy until the shown label follows."""
    s = EmotionSmoother(half_life_s=half_life, switch_margin=0.1)
    n_before = int(2 * fps)
    out = run(s, ["neutral"] * n_before + ["happy"] * int(5 * fps), fps)
    first = next(i for i, f in enumerate(out) if i >= n_before and f.label == "happy")
    return (first - n_before) / fps


@pytest.mark.parametrize("fps", [10, 30])
def test_a_one_frame_spike_does_not_flip_the_label(fps):
    s = EmotionSmoother(half_life_s=0.5)
    out = run(s, ["neutral"] * fps + ["angry"] + ["neutral"] * fps, fps)
    assert {f.label for f in out} == {"neutral"}
    spike = out[fps]
    assert spike.probs["angry"] < 0.5  # the spike shows in the probabilities, damped


@pytest.mark.parametrize("fps", [10, 30])
def test_a_lasting_change_comes_through_within_about_the_half_life(fps):
    t = switch_time(fps)
    assert 0 < t <= 0.5 * 1.2 + 1 / fps  # within the half-life (+ a frame) ...
    assert t >= 0.1  # ... but not instantly


def test_switch_time_does_not_depend_on_the_frame_rate():
    assert abs(switch_time(10) - switch_time(30)) <= 0.1 + 1e-9


def test_longer_half_life_is_slower():
    assert switch_time(30, half_life=1.0) > switch_time(30, half_life=0.25)


def test_zero_half_life_follows_every_frame():
    s = EmotionSmoother(half_life_s=0.0, switch_margin=0.0)
    out = run(s, ["neutral", "angry", "neutral"], fps=30)
    assert [f.label for f in out] == ["neutral", "angry", "neutral"]


def test_hysteresis_keeps_the_label_while_the_lead_is_small():
    """Probabilities that hover around a tie do not make the label flicker."""
    s = EmotionSmoother(half_life_s=0.0, switch_margin=0.1)
    base = {k: 0.0 for k in FER2013_LABELS}
    labels = []
    for i in range(20):
        lead = 0.03 if i % 2 else -0.03
        probs = {**base, "happy": 0.5 + lead, "neutral": 0.5 - lead}
        f = face("neutral").with_probs(probs)
        labels.append(s.update([f], i / 30)[0].label)
    assert len(set(labels)) == 1


def test_probabilities_stay_a_distribution():
    s = EmotionSmoother(half_life_s=0.3)
    for f in run(s, ["happy", "sad", "fear", "happy"] * 5, fps=15):
        assert sum(f.probs.values()) == pytest.approx(1.0, abs=1e-6)
        assert f.label in FER2013_LABELS


def test_tracks_are_smoothed_independently():
    s = EmotionSmoother(half_life_s=0.5)
    for i in range(30):
        a, b = s.update([face("happy", track_id=1), face("sad", track_id=2)], i / 30)
    assert (a.label, b.label) == ("happy", "sad")


def test_a_track_is_forgotten_after_its_absence():
    s = EmotionSmoother(half_life_s=0.5, forget_after_s=2.0)
    run(s, ["happy"] * 30, fps=30)  # t = 0 .. ~1 s
    s.update([], 5.0)  # long absence
    back = s.update([face("sad")], 5.1)[0]
    assert back.label == "sad" and back.probs["sad"] == pytest.approx(0.9)


def test_untracked_faces_pass_through_unchanged():
    s = EmotionSmoother()
    f = face("fear", track_id=None)
    assert s.update([f], 0.0)[0] is f


def hovering(s: EmotionSmoother, n: int, fps: float, top: float, swing: float) -> list[FaceEmotion]:
    """Happy's probability alternating top +- swing every frame (the rest spread evenly)."""
    return [s.update([face("happy", top + (swing if i % 2 else -swing))], i / fps)[0] for i in range(n)]


def test_a_confidence_hovering_at_the_uncertain_threshold_does_not_flicker():
    plain = EmotionSmoother(half_life_s=0.0)  # no smoothing, no hysteresis: the flicker it prevents
    assert {f.shown_label(0.4) for f in hovering(plain, 20, 30, 0.4, 0.03)} == {"happy", "uncertain"}
    held = EmotionSmoother(half_life_s=0.05, uncertain_below=0.4, uncertain_margin=0.1)
    assert len({f.shown_label(0.4) for f in hovering(held, 60, 30, 0.4, 0.03)}) == 1


def test_uncertain_comes_and_goes_once_the_confidence_is_past_the_band():
    s = EmotionSmoother(half_life_s=0.05, uncertain_below=0.4, uncertain_margin=0.1, min_hold_s=0.0)
    sure = [s.update([face("happy", 0.8)], i / 30)[0] for i in range(30)]
    low = [s.update([face("happy", 0.3)], 1 + i / 30)[0] for i in range(30)]
    high = [s.update([face("happy", 0.5)], 2 + i / 30)[0] for i in range(30)]
    assert sure[-1].shown_label(0.4) == "happy"
    assert low[-1].shown_label(0.4) == "uncertain"
    assert high[-1].shown_label(0.4) == "happy"


def test_another_threshold_than_the_smoothers_gets_the_plain_rule():
    """The page's threshold rules: a hold decided at another threshold is not applied."""
    s = EmotionSmoother(half_life_s=0.05, uncertain_below=0.4)
    f = [s.update([face("happy", 0.42)], i / 30)[0] for i in range(30)][-1]
    assert f.shown_label(0.5) == "uncertain" and f.shown_label(0.3) == "happy"


def test_a_shown_label_stays_at_least_the_minimum_hold():
    """Labels that would change every frame are shown for at least `min_hold_s` each."""
    s = EmotionSmoother(half_life_s=0.01, switch_margin=0.0, uncertain_below=0.4, min_hold_s=0.4)
    fps = 30
    shown = [(i / fps, s.update([face(lab)], i / fps)[0].shown_label(0.4))
             for i, lab in enumerate(["happy", "sad"][i % 2] for i in range(90))]
    changes = [t for (t, a), (_, b) in itertools.pairwise(shown) if a != b]
    assert changes, "the labels should still change"
    assert all(b - a >= 0.4 - 1e-9 for a, b in itertools.pairwise(changes))


def test_the_first_change_comes_without_delay_from_the_hold():
    """The hold keeps a label up, it does not delay the first change (no added latency)."""
    assert switch_time(30) == pytest.approx(
        switch_time_with(EmotionSmoother(half_life_s=0.5, switch_margin=0.1, min_hold_s=0.0), 30))


def switch_time_with(s: EmotionSmoother, fps: float) -> float:
    out = run(s, ["neutral"] * int(2 * fps) + ["happy"] * int(5 * fps), fps)
    first = next(i for i, f in enumerate(out) if i >= 2 * fps and f.label == "happy")
    return (first - 2 * fps) / fps
