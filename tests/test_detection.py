"""The real MTCNN (facenet-pytorch's weights, run by ONNX Runtime) on real photos."""

import subprocess
import sys

import numpy as np
import pytest

from fer.detection import DetectorConfig, FaceDetector


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


def test_still_faces_scores_reused_boxes(detector, astronaut):
    faces = detector.detect(astronaut)
    assert detector.still_faces(astronaut, faces)[0] > 0.9
    empty = np.full_like(astronaut, 90)  # the person left: the same box now holds a wall
    assert detector.still_faces(empty, faces)[0] < 0.5
    assert detector.still_faces(astronaut, []).shape == (0,)


def test_with_config_shares_the_networks(detector, astronaut):
    strict = detector.with_config(DetectorConfig(min_score=0.999999, min_face_size=40))
    assert strict.mtcnn is detector.mtcnn and strict.config.min_face_size == 40
    assert detector.config == DetectorConfig()  # the original keeps its settings
    assert len(detector.detect(astronaut)) == 1
    assert strict.detect(astronaut) == []  # the astronaut scores 0.99999774: below this bar


def test_max_side_per_call_is_that_detection_size(detector, astronaut):
    import cv2

    big = cv2.resize(astronaut, (1024, 1024))
    per_call = detector.detect(big, max_side=320)
    configured = detector.with_config(DetectorConfig(max_side=320)).detect(big)
    assert len(per_call) == len(configured) == 1
    assert per_call[0].box == configured[0].box
    np.testing.assert_array_equal(per_call[0].landmarks, configured[0].landmarks)
    # and it is a real change of size: at full resolution the box differs a little
    full = detector.detect(big, max_side=0)[0]
    assert full.box != per_call[0].box and np.allclose(full.box, per_call[0].box, atol=25)


def test_onnx_and_torch_backends_agree(detector, astronaut):
    pytest.importorskip("facenet_pytorch")
    torch_detector = FaceDetector(backend="torch")
    (a,), (b,) = detector.detect(astronaut), torch_detector.detect(astronaut)
    assert np.allclose(a.box, b.box, atol=0.01) and np.allclose(a.landmarks, b.landmarks, atol=0.01)
    faces = detector.detect(astronaut)
    assert np.allclose(detector.still_faces(astronaut, faces), torch_detector.still_faces(astronaut, faces),
                       atol=1e-4)
    with pytest.raises(ValueError, match="backend"):
        FaceDetector(backend="tensorflow")


def test_detection_never_imports_torch():
    """The runtime path (detect and the reused-box check) runs without torch in the process."""
    code = ("import sys; import numpy as np; from skimage import data\n"
            "from fer.detection import FaceDetector\n"
            "d = FaceDetector(); img = data.astronaut(); faces = d.detect(img)\n"
            "assert len(faces) == 1 and d.still_faces(img, faces)[0] > 0.9\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision', 'facenet_pytorch')))")
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout


def test_a_tight_face_crop_is_found_with_a_margin(detector, astronaut):
    """A photo that is only a face (an uploaded crop, the movie stills in the wild set): MTCNN
    needs margin around a face, so such a photo is searched again on a copy with one."""
    x1, y1, x2, y2 = map(int, detector.detect(astronaut)[0].box)
    dx, dy = (x2 - x1) // 10, (y2 - y1) // 10
    crop = np.ascontiguousarray(astronaut[y1 + dy:y2 - dy, x1 + dx:x2 - dx])
    assert detector.detect(crop, still=False) == []  # a stream's frame: one pass only
    faces = detector.detect(crop)
    assert len(faces) == 1 and faces[0].score > 0.9
    h, w = crop.shape[:2]
    bx1, by1, bx2, by2 = faces[0].box
    assert 0 <= bx1 < w / 4 and 0 <= by1 < h / 4 and 3 * w / 4 < bx2 <= w and 3 * h / 4 < by2 <= h
    left_eye, right_eye, nose, *_ = faces[0].landmarks  # in the crop's own pixels
    assert 0 < left_eye[0] < nose[0] < right_eye[0] < w and 0 < left_eye[1] < nose[1] < h


def test_no_margin_retry_for_large_images_or_frames(detector, astronaut):
    from unittest import mock

    config = detector.config
    assert config.margin_retry_side == 400  # photos
    small = np.full((240, 320, 3), 127, np.uint8)
    with mock.patch.object(FaceDetector, "detect_with_margin", side_effect=AssertionError) as retry:
        assert detector.detect(np.full((480, 640, 3), 127, np.uint8)) == []  # larger than 400 px
        assert detector.detect(small, still=False) == []  # a frame of a stream or video
        assert detector.detect_near(small, [(100.0, 80.0, 160.0, 150.0)]) == []  # a crop of a frame
        retry.assert_not_called()
        with pytest.raises(AssertionError):
            detector.detect(small)  # a small photo is searched again
