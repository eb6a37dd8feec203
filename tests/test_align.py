import numpy as np
import pytest

from fer.align import TEMPLATE_48, align_faces, face_transform, similarity_transform
from fer.results import Face


def test_similarity_transform_recovers_rotation_scale_shift():
    src = np.array([[10, 10], [30, 12], [20, 40]], float)
    ang, s, t = np.deg2rad(20), 1.7, np.array([5.0, -3.0])
    rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    dst = (s * rot @ src.T).T + t
    m = similarity_transform(src, dst)
    assert np.allclose(m[:, :2], s * rot, atol=1e-6) and np.allclose(m[:, 2], t, atol=1e-6)


def test_landmarks_land_on_the_template():
    # A face 3x the template's size, turned by 10 degrees and moved: built from the template itself.
    ang = np.deg2rad(10)
    rot = 3 * np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    eyes_mouth = TEMPLATE_48 @ rot.T + [60, 40]
    nose = eyes_mouth.mean(0)
    lm = np.stack([eyes_mouth[0], eyes_mouth[1], nose, eyes_mouth[2] - [9, 0], eyes_mouth[2] + [9, 0]]).astype(np.float32)
    face = Face((40, 20, 200, 220), 0.99, lm)
    m = face_transform(face)
    pts = np.stack([lm[0], lm[1], (lm[3] + lm[4]) / 2])
    mapped = (m[:, :2] @ pts.T).T + m[:, 2]
    assert np.allclose(mapped, TEMPLATE_48, atol=1e-3)
    eyes = mapped[:2]
    assert abs(eyes[0, 1] - eyes[1, 1]) < 1e-3  # eyes level after alignment


def test_tilted_face_is_levelled(astronaut, recognizer):
    import cv2

    h, w = astronaut.shape[:2]
    rot = cv2.warpAffine(astronaut, cv2.getRotationMatrix2D((w / 2, h / 2), 20, 1.0), (w, h))
    upright = align_faces(astronaut, recognizer.detect(astronaut))[0].astype(float)
    tilted = align_faces(rot, recognizer.detect(rot))[0].astype(float)
    corr = np.corrcoef(upright.ravel(), tilted.ravel())[0, 1]
    assert corr > 0.8  # the same face comes out the same way up


def test_box_only_face_and_grey_input():
    img = np.zeros((100, 100), np.uint8)
    img[40:60, 40:60] = 255
    crop = align_faces(img, [Face((30, 30, 70, 70), 1.0)])[0]
    assert crop.shape == (48, 48) and crop[24, 24] == 255 and crop[2, 2] == 0


@pytest.mark.parametrize("n", [0, 3])
def test_batch_shape(astronaut, n):
    faces = [Face((180, 60, 270, 170), 1.0)] * n
    assert align_faces(astronaut, faces).shape == (n, 48, 48)
