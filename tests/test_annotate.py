"""Label tags stay fully inside the picture wherever the face is and whatever the stream's size
(issue 23.2: a face near the top had its tag cut to 'ppy 42%')."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fer.annotate import LabelAnnotator, tag_layout
from fer.labels import color_rgb
from fer.results import FaceEmotion

TEXT = "#12 Uncertain (Happy 38%)"  # the longest tag the live view draws


def face(box, label="happy", p=0.9, track_id=1) -> FaceEmotion:
    probs = {"happy": 0.0, "sad": 0.0, label: p}
    probs["sad" if label != "sad" else "happy"] = 1 - p
    return FaceEmotion(box=box, score=0.99, landmarks=np.full((5, 2), np.nan, np.float32), probs=probs,
                       label=label, track_id=track_id)


def inside(tag, w, h) -> bool:
    return 0 <= tag.x1 < tag.x2 <= w - 1 and 0 <= tag.y1 < tag.y2 <= h - 1


def test_tag_sits_just_above_a_box_with_room_above():
    tag = tag_layout("#1 Happy 87%", (200, 150, 300, 260), 640, 480, 0.53)
    assert tag.y2 == 150 and tag.x1 == 200 and inside(tag, 640, 480)


def test_tag_of_a_face_at_the_top_edge_goes_inside_the_box_not_off_the_picture():
    for top in (0, 3, 10):
        tag = tag_layout("#1 Happy 87%", (200, top, 300, top + 110), 640, 480, 0.53)
        assert tag.y1 == top and inside(tag, 640, 480), (top, tag)
    cut = tag_layout("#1 Happy 87%", (200, -40, 300, 70), 640, 480, 0.53)  # face cut by the frame's top
    assert cut.y1 == 0 and inside(cut, 640, 480)


def test_tag_is_moved_in_from_the_right_and_bottom_edges():
    right = tag_layout(TEXT, (600, 200, 660, 260), 640, 480, 0.53)
    assert inside(right, 640, 480) and right.x1 < 600
    bottom = tag_layout(TEXT, (100, 478, 160, 540), 640, 480, 0.53)
    assert inside(bottom, 640, 480)


def test_text_shrinks_only_when_wider_than_a_small_stream():
    wide = tag_layout(TEXT, (10, 50, 60, 100), 640, 480, 0.53)
    assert wide.scale == 0.53
    small = tag_layout(TEXT, (10, 50, 60, 100), 160, 120, 0.53)
    assert small.scale < 0.53 and inside(small, 160, 120)


@settings(max_examples=300, deadline=None)
@given(w=st.integers(48, 1920), h=st.integers(36, 1080), x=st.floats(-500, 2500), y=st.floats(-500, 1500),
       size=st.floats(1, 600), scale=st.floats(0.3, 2.0))
def test_tag_is_inside_the_frame_for_any_box_and_frame(w, h, x, y, size, scale):
    assert inside(tag_layout(TEXT, (x, y, x + size, y + size), w, h, scale), w, h)


@pytest.mark.parametrize("shape", [(480, 640), (240, 320), (120, 160)])
def test_label_annotator_draws_the_whole_tag_inside_for_a_face_at_the_top(shape):
    """The drawing itself: the tag's colour reaches the picture's first row above the face and
    its right end stays inside, at the sizes the browser lowers the stream to."""
    h, w = shape
    scene = np.zeros((h, w, 3), np.uint8)
    f = face((w * 0.6, 0.0, w * 0.9, h * 0.4))
    LabelAnnotator().annotate(scene, [f])
    colour = np.asarray(color_rgb("happy"))
    painted = np.all(scene == colour, axis=2)
    rows, cols = np.nonzero(painted)
    assert rows.min() == 0 and cols.max() <= w - 1 and painted.sum() > 50
    text = np.any(scene != 0, axis=2) & ~painted  # the text pixels are inside the tag's rectangle
    tr, tc = np.nonzero(text)
    assert tr.min() >= rows.min() and tr.max() <= rows.max() and tc.min() >= cols.min() and tc.max() <= cols.max()
