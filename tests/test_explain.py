import numpy as np
import pytest

from fer.align import align_faces
from fer.classifier import EmotionClassifier
from fer.explain import grad_cam, overlay


@pytest.fixture(scope="module")
def crop_and_clf(astronaut, recognizer):
    crop = align_faces(astronaut, recognizer.detect(astronaut))[0]
    return crop, EmotionClassifier(backend="torch")


def test_map_shape_finite_normalised(crop_and_clf):
    crop, clf = crop_and_clf
    cam = grad_cam(clf, crop)
    assert cam.heatmap.shape == crop.shape
    assert np.isfinite(cam.heatmap).all()
    assert cam.heatmap.min() >= 0 and cam.heatmap.max() == pytest.approx(1.0)
    assert cam.target == max(cam.probs, key=cam.probs.get)


def test_map_changes_with_target(crop_and_clf):
    crop, clf = crop_and_clf
    a, b = grad_cam(clf, crop, "happy").heatmap, grad_cam(clf, crop, "angry").heatmap
    assert not np.allclose(a, b, atol=0.05)


def test_unknown_target_and_overlay(crop_and_clf):
    crop, clf = crop_and_clf
    with pytest.raises(ValueError):
        grad_cam(clf, crop, "bored")
    img = overlay(crop, grad_cam(clf, crop).heatmap)
    assert img.shape == (192, 192, 3) and img.dtype == np.uint8
