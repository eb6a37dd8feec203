"""The shipped weights: they load offline, match their card, and give proper probabilities."""

import json

import numpy as np
import pytest

from fer.classifier import EmotionClassifier, softmax
from fer.labels import FER2013_LABELS
from fer.weights import DEFAULT_WEIGHTS, WEIGHTS_DIR, card_path, default_weights, list_weights


def test_default_weights_ship_with_a_card():
    assert DEFAULT_WEIGHTS in list_weights()
    card = json.loads(card_path(default_weights()).read_text())
    for key in ("name", "architecture", "labels", "preprocessing"):
        assert key in card
    assert tuple(card["labels"]) == FER2013_LABELS


def test_weights_folder_under_50_mb():
    assert sum(p.stat().st_size for p in WEIGHTS_DIR.rglob("*") if p.is_file()) < 50e6


@pytest.fixture(scope="module")
def classifiers():
    return EmotionClassifier(backend="onnx"), EmotionClassifier(backend="torch")


def test_softmax_rows_sum_to_one(classifiers):
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (5, 48, 48), dtype=np.uint8)
    for clf in classifiers:
        p = clf.predict_proba(crops)
        assert p.shape == (5, len(clf.labels))
        assert np.allclose(p.sum(1), 1, atol=1e-5) and (p >= 0).all()


def test_onnx_and_torch_agree(classifiers):
    rng = np.random.default_rng(1)
    crops = rng.integers(0, 256, (4, 48, 48), dtype=np.uint8)
    onnx, torch_ = classifiers
    assert onnx.backend == "onnx" and torch_.backend == "torch"
    assert np.allclose(onnx.predict_logits(crops), torch_.predict_logits(crops), atol=1e-3)


def test_empty_batch_and_wrong_size(classifiers):
    clf = classifiers[0]
    assert clf.predict_proba(np.zeros((0, 48, 48), np.uint8)).shape == (0, 7)
    with pytest.raises(ValueError, match="48x48"):
        clf.predict_proba(np.zeros((1, 32, 32), np.uint8))


def test_temperature_softens_without_changing_the_winner():
    logits = np.array([[2.0, 1.0, 0.0]])
    hot, cold = softmax(logits, 1.0), softmax(logits, 2.0)
    assert hot.argmax() == cold.argmax() and cold.max() < hot.max()


def test_missing_weights_or_card(tmp_path):
    with pytest.raises(FileNotFoundError):
        EmotionClassifier(tmp_path / "none.safetensors")
    (tmp_path / "x.safetensors").write_bytes(default_weights().read_bytes())
    with pytest.raises(FileNotFoundError, match="card"):
        EmotionClassifier(tmp_path / "x.safetensors")
