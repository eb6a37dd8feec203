"""Evaluation on the real FER-2013 PrivateTest (skips without ../shared/data)."""

import numpy as np
import pytest

from conftest import FER2013, needs_fer2013
from fer.evaluate import detect_layout, load_eval_data
from fer.labels import FER2013_LABELS, FERPLUS_LABELS


@needs_fer2013
def test_layout_and_privatetest_size():
    assert detect_layout(FER2013) == "fer2013"
    faces, layout = load_eval_data(FER2013, "PrivateTest", FER2013_LABELS)
    assert len(faces) == 3589


@needs_fer2013
def test_shipped_model_beats_chance_by_far_on_privatetest():
    from fer.classifier import EmotionClassifier
    from fer.evaluate import evaluate

    clf = EmotionClassifier()
    faces, _ = load_eval_data(FER2013, "PrivateTest", clf.labels)
    report, probs = evaluate(clf, faces)
    assert report.n == 3589
    assert report.accuracy > 0.6  # the card reports the exact figure; chance is 0.25 (majority class)
    assert np.allclose(probs.sum(1), 1, atol=1e-4)


def test_eight_class_model_on_seven_class_data_maps_by_name(tmp_path):
    from PIL import Image

    for cls in ("happy", "contempt"):
        (tmp_path / cls).mkdir()
        Image.fromarray(np.zeros((48, 48), np.uint8)).save(tmp_path / cls / "a.png")
    faces, layout = load_eval_data(tmp_path, "PrivateTest", FERPLUS_LABELS)
    assert layout == "class_folders"
    assert sorted(FERPLUS_LABELS[i] for i in faces.labels) == ["contempt", "happy"]
    faces7, _ = load_eval_data(tmp_path, "PrivateTest", FER2013_LABELS)
    assert faces7.skipped == {"unknown_class:contempt": 1}
