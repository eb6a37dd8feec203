"""The shipped weights: they load offline through their ONNX graph without torch, match their
card, agree with the PyTorch network, and give proper probabilities."""

import json
import logging
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest

from fer.classifier import EmotionClassifier, softmax
from fer.labels import FER2013_LABELS
from fer.weights import (
    DEFAULT_WEIGHTS,
    WEIGHTS_DIR,
    ModelCard,
    card_path,
    default_weights,
    int8_path,
    list_weights,
    onnx_path,
    weights_path,
)

SHIPPED = ["joint_resnet_m", "ferplus_resnet_m", "fer2013_cnn_small"]


def test_default_weights_ship_with_a_card():
    assert DEFAULT_WEIGHTS in list_weights()
    card = json.loads(card_path(default_weights()).read_text())
    for key in ("name", "architecture", "labels", "preprocessing", "onnx"):
        assert key in card
    assert tuple(card["labels"]) == FER2013_LABELS


def test_weights_folder_under_50_mb():
    assert sum(p.stat().st_size for p in WEIGHTS_DIR.rglob("*") if p.is_file()) < 50e6


def test_runtime_path_imports_no_torch():
    code = ("import sys, numpy as np, fer.classifier as c; k = c.EmotionClassifier(); "
            "k.predict_proba(np.zeros((1, 48, 48), np.uint8)); assert k.backend == 'onnx', k.backend; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    r = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


@pytest.fixture(scope="module")
def real_crops():
    """Real faces (scikit-image's LFW subset) at the classifier's size, plus noise."""
    from skimage import data

    faces = [cv2.resize((f * 255).astype(np.uint8), (48, 48), interpolation=cv2.INTER_AREA)
             for f in data.lfw_subset()[:24]]
    noise = np.random.default_rng(1).integers(0, 256, (4, 48, 48), dtype=np.uint8)
    return np.concatenate([np.stack(faces), noise])


@pytest.mark.parametrize("name", SHIPPED)
def test_onnx_graph_matches_torch_network(name, real_crops):
    onnx, torch_ = EmotionClassifier(name, backend="onnx", precision="float"), EmotionClassifier(name, backend="torch")
    assert onnx.backend == "onnx" and torch_.backend == "torch"
    a, b = onnx.predict_logits(real_crops), torch_.predict_logits(real_crops)
    assert np.abs(a - b).max() <= 1e-4
    assert np.ptp(a, axis=0).max() > 0.5  # the faces are told apart: the comparison is not vacuous


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


def test_empty_batch_and_wrong_size(classifiers):
    clf = classifiers[0]
    assert clf.predict_proba(np.zeros((0, 48, 48), np.uint8)).shape == (0, 7)
    with pytest.raises(ValueError, match="48x48"):
        clf.predict_proba(np.zeros((1, 32, 32), np.uint8))


def test_temperature_softens_without_changing_the_winner():
    logits = np.array([[2.0, 1.0, 0.0]])
    hot, cold = softmax(logits, 1.0), softmax(logits, 2.0)
    assert hot.argmax() == cold.argmax() and cold.max() < hot.max()


def test_missing_weights_card_or_backend(tmp_path):
    with pytest.raises(FileNotFoundError):
        EmotionClassifier(tmp_path / "none.safetensors")
    (tmp_path / "x.safetensors").write_bytes(default_weights().read_bytes())
    with pytest.raises(FileNotFoundError, match="card"):
        EmotionClassifier(tmp_path / "x.safetensors")
    with pytest.raises(ValueError, match="backend"):
        EmotionClassifier(backend="tensorrt")


def test_missing_graph_falls_back_to_torch_and_says_so(tmp_path, caplog):
    src = weights_path("fer2013_cnn_small")
    for p in (src, card_path(src)):  # weights and card, but not the graph
        shutil.copy(p, tmp_path / p.name)
    with caplog.at_level(logging.WARNING, logger="fer.classifier"):
        clf = EmotionClassifier(tmp_path / src.name)
    assert clf.backend == "torch"
    assert "falling back to PyTorch" in caplog.text and "publish" in caplog.text
    with pytest.raises(FileNotFoundError, match="publish"):
        EmotionClassifier(tmp_path / src.name, backend="onnx")


def test_graph_of_other_weights_is_not_used(tmp_path, caplog):
    """A retrained weights file beside an old graph: the graph would read the wrong bytes."""
    src = weights_path("fer2013_cnn_small")
    for p in (src, card_path(src), src.with_suffix(".onnx")):
        shutil.copy(p, tmp_path / p.name)
    assert EmotionClassifier(tmp_path / src.name).backend == "onnx"
    data = bytearray((tmp_path / src.name).read_bytes())
    data[-1] ^= 0x40  # one changed weight
    (tmp_path / src.name).write_bytes(bytes(data))
    with pytest.raises(ValueError, match="changed since"):
        EmotionClassifier(tmp_path / src.name, backend="onnx")
    with caplog.at_level(logging.WARNING, logger="fer.classifier"):
        assert EmotionClassifier(tmp_path / src.name).backend == "torch"
    assert "changed since" in caplog.text


def test_default_runs_its_int8_graph_and_explains_with_the_float_one(real_crops):
    auto, flt = EmotionClassifier(), EmotionClassifier(precision="float")
    assert auto.precision == "int8" and flt.precision == "float"
    a, b = auto.predict_proba(real_crops), flt.predict_proba(real_crops)
    assert not np.allclose(a, b, atol=1e-6)  # another graph ...
    assert (a.argmax(1) == b.argmax(1)).mean() >= 0.9 and np.abs(a - b).max() < 0.2  # ... the same reading
    assert set(auto.outputs) == {"logits", "cam"}  # the activation maps come from the float graph
    x = auto.preprocess(real_crops[:3])
    for got, want in zip(auto.run(x, ("logits", "cam")), flt.run(x, ("logits", "cam"))):
        assert np.allclose(got, want, atol=1e-5)


def test_int8_runs_only_where_its_card_states_good_parity(tmp_path, caplog):
    from dataclasses import replace

    src = weights_path(DEFAULT_WEIGHTS)
    card = ModelCard.read(card_path(src))
    for f in (src, onnx_path(src, card), int8_path(src, card)):
        shutil.copy(f, tmp_path / f.name)
    w, cpath = tmp_path / src.name, tmp_path / card_path(src).name
    card.with_int8(replace(card.int8, top1_agreement=0.97)).write(cpath)
    assert EmotionClassifier(w).precision == "float"  # "auto" keeps the float graph ...
    assert EmotionClassifier(w, precision="int8").precision == "int8"  # ... unless int8 is asked for
    card.with_int8(None).write(cpath)
    assert EmotionClassifier(w).precision == "float"
    with pytest.raises(ValueError, match="no int8 graph"):
        EmotionClassifier(w, precision="int8")
    with pytest.raises(ValueError, match="CPU only"):
        EmotionClassifier(backend="torch", precision="int8")
    card.write(cpath)
    (tmp_path / card.int8.graph.file).write_bytes(b"not this graph")
    with pytest.raises(ValueError, match="changed since"):
        EmotionClassifier(w, precision="int8")
    with caplog.at_level(logging.WARNING, logger="fer.classifier"):
        assert EmotionClassifier(w).precision == "float"
    assert "int8 graph" in caplog.text and "changed since" in caplog.text
