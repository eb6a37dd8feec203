"""Person ids across short absences: a returning face near its old place keeps its id."""

from __future__ import annotations

import numpy as np

from fer.reid import TrackLinker
from fer.results import FaceEmotion


def face(track_id: int, x: float, w: float = 100.0) -> FaceEmotion:
    return FaceEmotion((x, 50.0, x + w, 50.0 + w), 0.99, np.full((5, 2), np.nan, np.float32),
                       {"happy": 1.0}, "happy", track_id)


def ids(link: TrackLinker, faces: list[FaceEmotion], t: float) -> list[int | None]:
    return [f.track_id for f in link.update(faces, t)]


def test_returning_face_keeps_its_id_within_the_gap():
    link = TrackLinker(max_gap_s=5.0)
    assert ids(link, [face(1, 0), face(2, 400)], 0.0) == [1, 2]
    assert ids(link, [face(2, 400)], 1.0) == [2]
    # The tracker gave up on 1; its face comes back as tracker id 3 a little to the right.
    assert ids(link, [face(3, 30), face(2, 400)], 3.0) == [1, 2]


def test_far_away_late_or_rescaled_faces_are_new_people():
    link = TrackLinker(max_gap_s=5.0)
    ids(link, [face(1, 0)], 0.0)
    assert ids(link, [face(2, 300)], 1.0) == [2]  # 3 face widths away
    link = TrackLinker(max_gap_s=5.0)
    ids(link, [face(1, 0)], 0.0)
    assert ids(link, [face(2, 0)], 6.0) == [2]  # back too late
    link = TrackLinker(max_gap_s=5.0)
    ids(link, [face(1, 0)], 0.0)
    assert ids(link, [face(2, 0, w=250)], 1.0) == [2]  # far bigger: someone else, closer


def test_a_visible_person_is_never_taken_twice():
    link = TrackLinker()
    ids(link, [face(1, 0)], 0.0)
    assert ids(link, [face(1, 0), face(2, 20)], 0.1) == [1, 2]
    link = TrackLinker()
    ids(link, [face(1, 0)], 0.0)
    # Two new tracker ids near the lost person: only the nearest inherits the id.
    assert ids(link, [face(3, 60), face(2, 10)], 1.0) == [2, 1]
