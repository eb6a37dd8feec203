"""Logit ensembles of shipped models: the arithmetic, the pipeline contract, and compare's rows."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import needs_fer2013

from fer.classifier import EmotionClassifier
from fer.commands.compare import ensemble_rows
from fer.data.datasets import FaceArrays
from fer.ensemble import EnsembleClassifier, mean_log_probs, seven_class_view
from fer.labels import FER2013_LABELS


@pytest.fixture(scope="module")
def real_crops() -> np.ndarray:
    """Real faces (scikit-image's LFW subset), at the classifiers' 48x48 grey input."""
    import cv2
    from skimage.data import lfw_subset

    faces = lfw_subset()[:12]
    return np.stack([cv2.resize((f * 255).astype(np.uint8), (48, 48)) for f in faces])


def test_the_ensemble_is_the_mean_of_its_members_log_probabilities(real_crops):
    joint, ferplus = EmotionClassifier("joint_resnet_m"), EmotionClassifier("ferplus_resnet_m")
    ens = EnsembleClassifier([joint, ferplus])
    p = ens.predict_proba(real_crops)
    assert p.shape == (len(real_crops), 7) and np.allclose(p.sum(1), 1, atol=1e-5)
    a = np.log(seven_class_view(joint.predict_proba(real_crops), joint.labels))
    b = np.log(seven_class_view(ferplus.predict_proba(real_crops), ferplus.labels))
    expected = np.exp((a + b) / 2)
    assert np.allclose(p, expected / expected.sum(1, keepdims=True), atol=1e-4)
    assert ens.labels == FER2013_LABELS and ens.name == "joint_resnet_m + ferplus_resnet_m"


def test_two_copies_of_one_model_read_as_that_model(real_crops):
    one = EmotionClassifier("joint_resnet_m")
    assert np.allclose(EnsembleClassifier([one, one]).predict_proba(real_crops), one.predict_proba(real_crops), atol=1e-5)


def test_members_must_read_the_same_input():
    with pytest.raises(ValueError, match="input sizes"):
        EnsembleClassifier([SimpleNamespace(input_size=48), SimpleNamespace(input_size=64)])
    with pytest.raises(ValueError, match="two"):
        EnsembleClassifier([EmotionClassifier("joint_resnet_m")])


def test_an_ensemble_runs_in_the_pipeline(astronaut):
    from fer.recognizer import EmotionRecognizer

    (face,) = EmotionRecognizer(classifier=EnsembleClassifier.of(["joint_resnet_m", "ferplus_resnet_m"])).analyze(astronaut)
    assert set(face.probs) == set(FER2013_LABELS) and sum(face.probs.values()) == pytest.approx(1, abs=1e-5)


def test_ensemble_rows_take_the_best_of_each_size():
    """Three fake members on one domain of four faces: the pair and the triple with the best
    macro-F1 come back as rows, every combination with its score."""
    faces = FaceArrays(np.zeros((4, 48, 48), np.uint8), np.array([0, 3, 4, 6]), FER2013_LABELS)

    def probs(right: list[bool]) -> np.ndarray:
        p = np.full((4, 7), 0.02)
        for i, ok in enumerate(right):
            p[i, faces.labels[i] if ok else 5] = 0.88
        return p / p.sum(1, keepdims=True)

    member = {"a": probs([True, True, True, False]), "b": probs([True, True, False, False]),
              "c": probs([False, False, False, False])}
    cached = {m: {"fer2013": (faces, p)} for m, p in member.items()}
    best, every = ensemble_rows([{"model": m} for m in member], cached)
    assert len(every) == 4  # ab, ac, bc, abc
    pair, triple = best
    assert pair["members"] == ["a", "b"] and triple["members"] == ["a", "b", "c"]
    assert pair["fer2013"]["accuracy"] == pytest.approx(mean_accuracy(mean_log_probs([member["a"], member["b"]]), faces))


def mean_accuracy(p: np.ndarray, faces: FaceArrays) -> float:
    return float((p.argmax(1) == faces.labels).mean())


@needs_fer2013
def test_compare_lists_the_best_ensembles_but_never_selects_one(tmp_path):
    from fer.cli import main

    out = tmp_path / "compare.json"
    assert main(["compare", "--models", "fer2013_cnn_small", "joint_resnet_m", "ferplus_resnet_m", "--tta", "none",
                 "--baseline", "", "--wild", "", "--clips", "", "--ensembles", "--select",
                 "--json", str(out)]) == 0
    rep = json.loads(out.read_text())
    members = [r["members"] for r in rep["yardstick"] if "members" in r]
    assert [len(m) for m in members] == [2, 3] and len(rep["ensembles"]) == 4
    triple = next(r for r in rep["yardstick"] if len(r.get("members", [])) == 3)
    assert triple["ms_per_face"] > 0 and triple["params_m"] > 6 and triple["training"]["seconds"] > 0
    assert "members" not in next(r for r in rep["yardstick"] if r["model"] == rep["selection"]["winner"])
    assert set(rep["selection"]["scores"]) == {"fer2013_cnn_small", "joint_resnet_m", "ferplus_resnet_m"}
