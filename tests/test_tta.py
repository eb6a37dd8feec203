"""Test-time augmentation views and their merge."""

import numpy as np
import pytest

from fer.classifier import EmotionClassifier
from fer.tta import TTA_POLICIES, merge_views, tta_views


def test_views_are_stacked_view_major():
    x = np.random.default_rng(0).normal(size=(3, 1, 48, 48)).astype(np.float32)
    assert tta_views(x, "none") is x
    flip = tta_views(x, "flip")
    assert flip.shape == (6, 1, 48, 48)
    np.testing.assert_array_equal(flip[3:], x[..., ::-1])
    fz = tta_views(x, "flip_zoom")
    assert fz.shape == (12, 1, 48, 48)
    np.testing.assert_array_equal(fz[9:], fz[6:9][..., ::-1])
    assert not np.allclose(fz[6:9], x)  # the zoomed view differs from the original
    with pytest.raises(ValueError, match="unknown test-time augmentation"):
        tta_views(x, "rotate")


def test_zoom_enlarges_about_the_centre():
    x = np.zeros((1, 1, 48, 48), np.float32)
    x[..., 14:34, 14:34] = 1  # a centred 20 px square grows to about 22 px
    z = tta_views(x, "flip_zoom")[2, 0]
    assert 21 <= (z[24] > 0.5).sum() <= 23 and z[24, 24] == 1


def test_merge_views_averages_per_face():
    logits = np.arange(12, dtype=np.float32).reshape(4, 3)  # 2 views x 2 faces
    np.testing.assert_allclose(merge_views(logits, 2), [[3, 4, 5], [6, 7, 8]])


def test_every_policy_gives_probabilities(astronaut):
    crops = np.random.default_rng(1).integers(0, 255, (5, 48, 48), dtype=np.uint8)
    for policy in TTA_POLICIES:
        p = EmotionClassifier(tta=policy).predict_proba(crops)
        assert p.shape == (5, 7) and np.allclose(p.sum(1), 1, atol=1e-5)
    symmetric = np.tile(np.concatenate([np.arange(24), np.arange(24)[::-1]]).astype(np.uint8) * 10, (48, 1))
    a = EmotionClassifier(tta="none").predict_proba(symmetric[None])
    b = EmotionClassifier(tta="flip").predict_proba(symmetric[None])
    np.testing.assert_allclose(a, b, atol=1e-4)  # a mirror-symmetric face has nothing to add
