"""The model registry and the logit-averaging ensemble, built from the shipped weights."""

import json

import numpy as np
import pytest
import torch

from fer.classifier import EmotionClassifier
from fer.commands.publish import ensemble_card
from fer.explain import grad_cam
from fer.models import create_model, get_spec, list_models
from fer.models.ensemble import LogitMean, merge_member_states
from fer.weights import card_path, load_state, weights_path


def test_every_registered_model_runs_on_its_input_contract():
    for name in list_models():
        spec = get_spec(name)
        model = create_model(name, 7).eval()
        with torch.inference_mode():
            out = model(torch.zeros(2, spec.in_channels, spec.input_size, spec.input_size))
        assert out.shape == (2, 7), name


def test_ensemble_averages_member_logits():
    torch.manual_seed(0)
    a, b = create_model("resnet_m", 7).eval(), create_model("resnet_m", 7).eval()
    ens = create_model("resnet_m_x2", 7).eval()
    ens.load_state_dict(merge_member_states([a.state_dict(), b.state_dict()]))
    x = torch.randn(3, 1, 48, 48)
    with torch.inference_mode():
        assert torch.allclose(ens(x), (a(x) + b(x)) / 2, atol=1e-5)
    with pytest.raises(ValueError):
        LogitMean([])


@pytest.fixture(scope="module")
def twin_ensemble(tmp_path_factory):
    """The shipped default written twice into one ensemble file: it must behave exactly like it."""
    from safetensors.torch import save_file

    src = weights_path("fer2013_resnet_m")
    card = json.loads(card_path(src).read_text())
    folder = tmp_path_factory.mktemp("w")
    state = load_state(src)
    copy = {k: v.clone() for k, v in state.items()}
    save_file(merge_member_states([state, copy]), str(folder / "twin.safetensors"))
    twin = ensemble_card([card, card])
    assert twin["architecture"] == "resnet_m_x2" and len(twin["training"]["members"]) == 2
    (folder / "twin.json").write_text(json.dumps(twin))
    return folder / "twin.safetensors"


def test_ensemble_weights_load_and_match_the_member(twin_ensemble, recognizer, astronaut):
    single = EmotionClassifier("fer2013_resnet_m")
    twin = EmotionClassifier(twin_ensemble)
    assert twin.backend == single.backend == "onnx"
    crops = np.random.default_rng(0).integers(0, 255, (4, 48, 48), dtype=np.uint8)
    np.testing.assert_allclose(twin.predict_proba(crops), single.predict_proba(crops), atol=1e-4)
    crop = crops[0]
    a, b = grad_cam(single, crop), grad_cam(twin, crop)
    assert a.target == b.target
    np.testing.assert_allclose(a.heatmap, b.heatmap, atol=1e-3)


def test_ensemble_card_refuses_mixed_architectures():
    cards = [{"architecture": "resnet_m", "labels": ["a"], "name": "x", "training": {}},
             {"architecture": "resnet_s", "labels": ["a"], "name": "y", "training": {}}]
    with pytest.raises(ValueError):
        ensemble_card(cards)
