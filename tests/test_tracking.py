"""IoUTracker on synthetic box sequences: stable ids while faces move, cross and vanish."""

from __future__ import annotations

import numpy as np

from fer.labels import FER2013_LABELS
from fer.results import FaceEmotion
from fer.tracking import IoUTracker, iou_matrix


def face(x: float, y: float = 100.0, size: float = 80.0) -> FaceEmotion:
    probs = np.full(len(FER2013_LABELS), 1 / len(FER2013_LABELS))
    return FaceEmotion((x, y, x + size, y + size), 0.99, np.full((5, 2), np.nan, np.float32),
                       dict(zip(FER2013_LABELS, probs.tolist())), "neutral")


def ids(faces: list[FaceEmotion]) -> list[int | None]:
    return [f.track_id for f in faces]


def test_iou_matrix_known_values():
    m = iou_matrix([(0, 0, 10, 10)], [(0, 0, 10, 10), (5, 0, 15, 10), (20, 20, 30, 30)])
    np.testing.assert_allclose(m, [[1.0, 50 / 150, 0.0]], atol=1e-6)
    assert iou_matrix([], [(0, 0, 1, 1)]).shape == (0, 1)


def test_a_moving_face_keeps_its_id():
    tracker = IoUTracker()
    seen = {tracker.update([face(100 + 5 * i)])[0].track_id for i in range(30)}
    assert seen == {1}


def test_two_faces_crossing_keep_their_ids():
    """A walks right, B walks left, on different rows so their boxes overlap at the crossing
    without swapping; the detector reports them left to right, so list order flips midway."""
    tracker = IoUTracker()
    id_a = id_b = None
    for i in range(41):
        a, b = face(100 + 10 * i, y=100), face(500 - 10 * i, y=140)
        out = tracker.update(sorted([a, b], key=lambda f: f.box[0]))
        by_row = {f.box[1]: f.track_id for f in out}
        if i == 0:
            id_a, id_b = by_row[100], by_row[140]
            assert id_a != id_b
        assert by_row[100] == id_a, f"frame {i}: face A changed id"
        assert by_row[140] == id_b, f"frame {i}: face B changed id"


def test_a_face_missing_for_a_few_frames_keeps_its_id():
    tracker = IoUTracker(max_missed=5)
    first = tracker.update([face(100)])[0].track_id
    for _ in range(5):
        tracker.update([])
    assert tracker.update([face(104)])[0].track_id == first


def test_tracks_are_forgotten_after_a_long_absence_and_ids_are_not_reused():
    tracker = IoUTracker(max_missed=3)
    first = tracker.update([face(100)])[0].track_id
    for _ in range(4):
        tracker.update([])
    assert tracker.active_ids == []
    again = tracker.update([face(100)])[0].track_id
    assert again != first


def test_a_new_face_far_away_gets_a_new_id():
    tracker = IoUTracker()
    a = tracker.update([face(100)])
    b = tracker.update([face(100), face(400)])
    assert ids(b)[0] == ids(a)[0] and ids(b)[1] not in ids(a)


def test_a_face_that_moved_past_its_box_between_detections_keeps_its_id():
    """Detection every few frames on a busy CPU: the face moved 60% of its width (IoU ~0.25)."""
    tracker = IoUTracker()
    first = tracker.update([face(100)])[0].track_id
    moved = tracker.update([face(148)])[0].track_id
    assert moved == first
    assert tracker.update([face(400)])[0].track_id != first  # far away: someone else


def test_a_blink_of_the_detector_keeps_the_id_but_a_longer_absence_does_not():
    """One or two missed detections (a blurred frame) are tracking; coming back after a longer
    absence is re-identification (`fer.reid`): then only overlap, not distance, matches."""
    tracker = IoUTracker()
    first = tracker.update([face(100)])[0].track_id
    tracker.update([])
    tracker.update([])
    assert tracker.update([face(148)])[0].track_id == first  # missed two detections, moved 60%
    for _ in range(3):
        tracker.update([])
    assert tracker.update([face(196)])[0].track_id != first  # missed three, moved 60% again
