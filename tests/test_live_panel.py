"""The live panel is decided from one snapshot, the one the video drew last (issue 23.1 and 23.6):
no "No face in view" above an old chart, no stand-in face for a chosen id that left, no delta chip.
`panel_view` is pure; `render_panel` is run by Streamlit's AppTest on the same snapshots."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fer.app.live_panel import LARGEST, panel_view, readout, selector_options
from fer.live.load import LEVELS
from fer.live.overlay import LiveSnapshot, LiveStats
from fer.live.worker import LiveResult
from fer.pipeline import StageTimings
from fer.results import FaceEmotion

STATS = LiveStats(video_fps=29.6, analysis_fps=14.2, overlay_age_ms=72.4, level=0, frame_ms=40.0)


def face(track_id: int, size: float, label: str = "happy", p: float = 0.87) -> FaceEmotion:
    others = [k for k in ("angry", "happy", "sad") if k != label]
    probs = {k: (1 - p) / len(others) for k in others} | {label: p}  # `label` stays the top one
    return FaceEmotion(box=(10.0, 10.0, 10.0 + size, 10.0 + size), score=0.99,
                       landmarks=np.full((5, 2), np.nan, np.float32), probs=probs, label=label, track_id=track_id)


def snapshot(faces, seq: int = 812, stats: LiveStats = STATS) -> LiveSnapshot:
    result = LiveResult(seq, 0.0, tuple(faces), True, StageTimings(), 40.0, 0, LEVELS[0]) if faces else None
    return LiveSnapshot(result, stats, 1.0 if faces else 0.0)


def test_the_panel_follows_the_largest_face_of_the_drawn_frame():
    view = panel_view(snapshot([face(1, 50), face(3, 120, "sad", 0.57)]))
    assert (view.state, view.faces_in_view, view.ids, view.face.track_id, view.seq) == ("face", 2, (1, 3), 3, 812)
    assert view.reading(0.4) == "Face #3 · frame 812 · Sad 57%"


def test_a_chosen_face_that_left_is_said_to_be_gone_not_replaced_by_another():
    view = panel_view(snapshot([face(1, 50)]), followed=7)
    assert view.state == "gone" and view.face is None and "Face #7 is not in view" in view.message()
    assert selector_options(view) == [LARGEST, 1, 7]  # the choice stays until the visitor changes it
    assert panel_view(snapshot([face(1, 50), face(7, 30)]), followed=7).face.track_id == 7


def test_no_face_on_the_frame_means_no_face_in_the_panel():
    lost = panel_view(snapshot([]))
    assert (lost.state, lost.faces_in_view, lost.face) == ("no_face", 0, None)
    assert lost.message() == "No face in view."
    assert panel_view(snapshot([], stats=LiveStats(25, 0.0, math.nan, 0, math.nan))).state == "waiting"
    assert panel_view(None).state == "waiting"


def test_uncertain_reading_names_the_threshold_label_as_the_video_does():
    view = panel_view(snapshot([face(1, 80, "happy", 0.38)]))
    assert view.reading(0.4) == "Face #1 · frame 812 · Uncertain 38%"


def test_readout_in_words_without_an_age_when_nothing_is_drawn():
    assert readout(STATS) == "Video 30 frames/s · 14 analyses/s · labels 72 ms behind the picture"
    busy = readout(LiveStats(20, 6, math.nan, 2, 90))
    assert "labels" not in busy and "busy" in busy


def _panel_script():
    import streamlit as st

    from fer.app.live_panel import render_panel

    render_panel(st.session_state["snap"], 0.4)


@pytest.fixture
def render():
    from streamlit.testing.v1 import AppTest

    def run(snap, followed=None):
        at = AppTest.from_function(_panel_script, default_timeout=60)
        at.session_state["snap"] = snap
        if followed is not None:
            at.session_state["follow_face"] = followed
        at.run()
        assert not at.exception, at.exception
        return at
    return run


def test_rendered_panel_with_a_face_has_its_chart_and_no_delta_chip(render):
    at = render(snapshot([face(1, 50), face(2, 90, "happy", 0.38)]))
    (metric,) = at.metric
    assert metric.label == "Face #2 of 2 in view" and metric.value == "Uncertain (Happy 38%)"
    assert not metric.proto.delta  # no '↑ 34%' chip that reads as 'up 34%'
    assert "changes only when another expression leads by 10 percentage points" in metric.help  # the one rule
    assert any(c.value.startswith("Face #2 · frame 812 · Uncertain 38%") for c in at.caption)
    assert len(at.get("plotly_chart")) == 1
    (selector,) = at.get("button_group")
    assert selector.options == ["Largest", "#1", "#2"]


def test_rendered_panel_without_a_face_says_so_and_has_no_chart(render):
    at = render(snapshot([]))
    assert [m.value for m in at.metric] == ["–"] and at.metric[0].label == "Faces in view: 0"
    assert any(c.value == "No face in view." for c in at.caption)
    assert not at.get("plotly_chart") and not at.get("button_group")  # no selector without faces


def test_rendered_panel_for_a_chosen_face_that_left(render):
    at = render(snapshot([face(1, 50)]), followed=4)
    assert not at.get("plotly_chart")
    assert any("Face #4 is not in view" in c.value for c in at.caption)
    assert at.get("button_group")[0].options == ["Largest", "#1", "#4 (gone)"]
