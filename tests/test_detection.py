"""The real MTCNN (weights from the facenet-pytorch wheel) on real photos."""

import numpy as np
import pytest

from fer.detection import DetectorConfig, FaceDetector, normalise_mtcnn_output


@pytest.fixture(scope="module")
def detector():
    return FaceDetector()


def test_one_face_in_astronaut(detector, astronaut):
    faces = detector.detect(astronaut)
    assert len(faces) == 1
    f = faces[0]
    x1, y1, x2, y2 = f.box
    # The face of Eileen Collins sits around x 180-270, y 60-175 in the 512x512 photo.
    assert 150 < x1 < 200 and 230 < x2 < 300 and 30 < y1 < 90 and 150 < y2 < 200
    assert f.score > 0.95 and f.has_landmarks
    left_eye, right_eye, nose, mouth_l, mouth_r = f.landmarks
    assert left_eye[0] < right_eye[0] and mouth_l[0] < mouth_r[0]
    assert left_eye[1] < nose[1] < mouth_l[1]
    for x, y in f.landmarks:
        assert x1 <= x <= x2 and y1 <= y <= y2


def test_downscaled_detection_maps_back_to_original_pixels(astronaut):
    import cv2

    big = cv2.resize(astronaut, (1024, 1024))
    full = FaceDetector(DetectorConfig(max_side=0)).detect(big)[0]
    small = FaceDetector(DetectorConfig(max_side=320)).detect(big)[0]
    assert np.allclose(full.box, small.box, atol=25)
    assert np.allclose(full.landmarks, small.landmarks, atol=15)


def test_no_face(detector):
    rng = np.random.default_rng(0)
    assert detector.detect(np.full((240, 320, 3), 127, np.uint8)) == []
    assert detector.detect(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)) == []


def test_several_faces_left_to_right(detector, astronaut):
    face = astronaut[20:220, 130:330]
    scene = np.concatenate([face, np.full_like(face, 255), face], 1)
    faces = detector.detect(scene)
    assert len(faces) == 2
    assert faces[0].box[0] < faces[1].box[0]


def test_normalise_object_arrays_from_numpy2():
    boxes = np.empty(2, dtype=object)
    boxes[0], boxes[1] = np.array([1, 2, 3, 4.0]), np.array([5, 6, 7, 8.0])
    probs = np.array([0.9, None], dtype=object)
    pts = np.empty(2, dtype=object)
    pts[0], pts[1] = np.zeros((5, 2)), np.ones((5, 2))
    b, p, lm = normalise_mtcnn_output(boxes, probs, pts)
    assert b.dtype == np.float32 and b.shape == (1, 4) and p.tolist() == pytest.approx([0.9])
    assert lm.shape == (1, 5, 2)
    b, p, lm = normalise_mtcnn_output(None, [None], None)
    assert b.shape == (0, 4) and p.shape == (0,) and lm.shape == (0, 5, 2)


def test_still_faces_scores_reused_boxes(detector, astronaut):
    faces = detector.detect(astronaut)
    assert detector.still_faces(astronaut, faces)[0] > 0.9
    empty = np.full_like(astronaut, 90)  # the person left: the same box now holds a wall
    assert detector.still_faces(empty, faces)[0] < 0.5
    assert detector.still_faces(astronaut, []).shape == (0,)
