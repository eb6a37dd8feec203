"""Ensembles: '<arch>_x<N>' from the registry, published from runs as one weights file, and read
by the classifier and Grad-CAM like any single model."""

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from fer.classifier import EmotionClassifier
from fer.commands.publish import ensemble_card, write_weights
from fer.explain import grad_cam
from fer.models import create_model, get_spec
from fer.models.ensemble import LogitEnsemble
from fer.weights import WEIGHTS_DIR


def test_registry_builds_n_members_with_the_base_input_contract():
    spec, base = get_spec("resnet_s_x3"), get_spec("resnet_s")
    assert (spec.input_size, spec.mean, spec.std) == (base.input_size, base.mean, base.std)
    model = create_model("resnet_s_x3", 8)
    assert isinstance(model, LogitEnsemble) and len(model.members) == 3
    with pytest.raises(KeyError):
        get_spec("nonet_x2")
    with pytest.raises(KeyError):
        get_spec("resnet_s_x0")


def test_forward_is_the_mean_of_member_logits():
    torch.manual_seed(0)
    model = create_model("cnn_small_x2", 7).eval()
    x = torch.randn(3, 1, 48, 48)
    with torch.no_grad():
        want = (model.members[0](x) + model.members[1](x)) / 2
        assert torch.allclose(model(x), want, atol=1e-6)
        assert not torch.allclose(model.members[0](x), model.members[1](x))


@pytest.fixture()
def two_runs(tmp_path):
    """Two training folders holding the shipped small CNN (as `python -m fer train` writes them)."""
    runs = []
    for name in ("a", "b"):
        run = tmp_path / name
        run.mkdir()
        shutil.copyfile(WEIGHTS_DIR / "fer2013_cnn_small.safetensors", run / "best.safetensors")
        shutil.copyfile(WEIGHTS_DIR / "fer2013_cnn_small.json", run / "best.json")
        runs.append(run)
    return runs


def test_published_ensemble_of_identical_members_matches_the_member(two_runs, tmp_path):
    cards = [json.loads((r / "best.json").read_text()) for r in two_runs]
    card = ensemble_card(cards)
    assert card["architecture"] == "cnn_small_x2" and len(card["training"]["ensemble_of"]) == 2
    assert "metrics" not in card and "calibration" not in card  # measured again for the ensemble
    path = tmp_path / "ens.safetensors"
    write_weights(two_runs, path, fp16=True)
    (tmp_path / "ens.json").write_text(json.dumps(card))
    ens, one = EmotionClassifier(path), EmotionClassifier("fer2013_cnn_small")
    stored = load_file(str(path))
    assert {v.dtype for v in stored.values() if v.is_floating_point()} == {torch.float16}
    assert all(k.startswith(("members.0.", "members.1.")) for k in stored)
    crops = np.random.default_rng(0).integers(0, 256, (6, 48, 48), dtype=np.uint8)
    assert np.allclose(ens.predict_logits(crops), one.predict_logits(crops), atol=2e-2)  # fp16 storage


def test_members_must_agree(two_runs):
    cards = [json.loads((r / "best.json").read_text()) for r in two_runs]
    cards[1]["labels"] = cards[1]["labels"] + ["contempt"]
    with pytest.raises(ValueError, match="labels"):
        ensemble_card(cards)


def test_grad_cam_of_an_ensemble_sums_its_members(two_runs, tmp_path, astronaut, recognizer):
    from fer.align import align_faces

    crop = align_faces(astronaut, recognizer.detect(astronaut))[0]
    path = tmp_path / "ens.safetensors"
    write_weights(two_runs, path, fp16=False)
    (tmp_path / "ens.json").write_text(json.dumps(ensemble_card([json.loads((r / "best.json").read_text())
                                                                 for r in two_runs])))
    ens = grad_cam(EmotionClassifier(path, backend="torch"), crop, "happy").heatmap
    one = grad_cam(EmotionClassifier("fer2013_cnn_small", backend="torch"), crop, "happy").heatmap
    assert ens.shape == crop.shape and np.allclose(ens, one, atol=1e-4)
