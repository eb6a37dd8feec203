"""Model cards and the shipped ONNX graphs: one typed card that round-trips the JSON files,
graphs that are what `publish` makes from the shipped weights, and no torch on the way."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from fer.weights import (
    DEFAULT_WEIGHTS,
    Calibration,
    ModelCard,
    SplitMetrics,
    card_of,
    card_path,
    list_weights,
    metric_key,
    onnx_path,
    sha256_of,
    weights_path,
)

SHIPPED = ["joint_resnet_m", "ferplus_resnet_m", "fer2013_cnn_small"]


@pytest.mark.parametrize("name", SHIPPED)
def test_card_round_trips_the_json_unchanged(name, tmp_path):
    path = card_path(weights_path(name))
    card = ModelCard.read(path)
    assert card.to_dict() == json.loads(path.read_text())
    card.write(tmp_path / "card.json")
    assert (tmp_path / "card.json").read_text() == path.read_text()
    assert ModelCard.read(tmp_path / "card.json") == card


def test_typed_fields_and_metric_accessor():
    card = card_of("joint_resnet_m")
    raw = json.loads(card_path(weights_path("joint_resnet_m")).read_text())
    assert card.architecture == "resnet_m" and card.input_size == 48 and card.mean == (0.5,)
    assert card.temperature == raw["calibration"]["temperature"] != 1.0
    assert card.metric("PrivateTest").accuracy == raw["metrics"]["PrivateTest"]["accuracy"]
    assert card.metric("PrivateTest", "flip_zoom").n == raw["metrics"]["PrivateTest + flip_zoom TTA"]["n"]
    assert card.metric("Training") is None
    assert card.training["recipe"]["model"] == "resnet_m"


def test_with_methods_return_new_cards():
    card = card_of("fer2013_cnn_small")
    before = card.to_dict()
    m = SplitMetrics(n=10, accuracy=0.5, macro_f1=0.4, weighted_f1=0.45)
    new = card.with_metrics({metric_key("PrivateTest", "flip"): m}, data="toy").with_calibration(Calibration(0.9))
    assert new.metric("PrivateTest", "flip") == m and new.metric("PrivateTest") is None
    assert new.to_dict()["metrics"]["data"] == "toy" and new.temperature == 0.9
    assert card.to_dict() == before and card.temperature != 0.9  # the original card is unchanged
    assert "fitted_on" not in new.to_dict()["calibration"]  # unset fields are left out


def test_card_of_a_name_without_a_card_says_where_it_looked(tmp_path):
    w = tmp_path / "orphan.safetensors"
    w.write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=r"no model card for .*orphan\.json"):
        card_of(w)
    assert card_of(DEFAULT_WEIGHTS) == ModelCard.read(card_path(weights_path(DEFAULT_WEIGHTS)))


def test_unknown_card_keys_are_refused():
    d = card_of("fer2013_cnn_small").to_dict()
    with pytest.raises(ValueError, match="unknown keys: colour_space"):
        ModelCard.from_dict({**d, "colour_space": "rgb"})


@pytest.mark.parametrize("name", SHIPPED)
def test_card_records_the_shipped_graph(name):
    w = weights_path(name)
    card = ModelCard.read(card_path(w))
    assert card.onnx is not None and card.onnx.opset == 17
    assert card.onnx.outputs == ("logits", "cam")
    assert sha256_of(onnx_path(w, card)) == card.onnx.sha256
    assert card.onnx.weights == w.name and sha256_of(w) == card.onnx.weights_sha256
    assert onnx_path(w, card).stat().st_size < 100_000  # the tensors stay in the safetensors file


def test_weights_module_imports_no_torch():
    code = ("import sys, fer.weights as w; [w.card_of(n) "
            "for n in w.list_weights()]; assert 'torch' not in sys.modules")
    r = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert set(SHIPPED) <= set(list_weights())


def test_publish_onnx_only_reproduces_the_shipped_graph(tmp_path):
    from fer.cli import main

    src = weights_path("fer2013_cnn_small")
    for p in (src, card_path(src)):
        shutil.copy(p, tmp_path / p.name)
    card = ModelCard.read(card_path(src))
    card.with_onnx(None).write(tmp_path / card_path(src).name)
    assert main(["publish", "--onnx-only", "--no-int8", str(tmp_path / src.name)]) == 0
    assert ModelCard.read(tmp_path / card_path(src).name) == card  # same graph, same card
    assert sha256_of(tmp_path / src.name) == sha256_of(src)  # the weights it points into are untouched


def test_self_contained_export_runs_anywhere(tmp_path):
    import onnxruntime as ort
    import torch

    from fer.models.export import export_onnx
    from fer.models.state import load_model

    w = weights_path("fer2013_cnn_small")
    card = ModelCard.read(card_path(w))
    model = load_model(card.architecture, len(card.labels), w)
    info = export_onnx(model, card, w, tmp_path / "g.onnx", cam=False, external=False)
    assert info.weights is None and info.outputs == ("logits",)
    with pytest.raises(ValueError, match="same folder"):
        export_onnx(model, card, w, tmp_path / "h.onnx")
    x = np.random.default_rng(0).normal(size=(3, 1, 48, 48)).astype(np.float32)
    (got,) = ort.InferenceSession(str(tmp_path / "g.onnx"), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    with torch.no_grad():
        assert np.abs(got - model(torch.from_numpy(x)).numpy()).max() <= 1e-4


def fer2013_or_skip():
    from fer.data.locations import dataset_dir

    data = dataset_dir("fer2013")
    if not (data / "test").is_dir():
        pytest.skip(f"FER-2013 not found at {data} (see README: Data)")
    return data


@pytest.mark.data
def test_shipped_int8_graph_keeps_the_parity_its_card_states():
    """The default's int8 graph, as users get it, against its float graph on FER-2013
    PublicTest: top-1 agreement >= 99%, accuracy within 0.3 points, and the card's figures."""
    from fer.classifier import EmotionClassifier
    from fer.evaluate import load_eval_data

    runs = {p: EmotionClassifier(DEFAULT_WEIGHTS, precision=p) for p in ("float", "int8")}
    assert EmotionClassifier().precision == "int8"  # what "auto" gives users
    val = load_eval_data(fer2013_or_skip(), "PublicTest", runs["float"].labels)[0]
    top = {p: c.predict_proba(val.images).argmax(1) for p, c in runs.items()}
    agreement = float((top["float"] == top["int8"]).mean())
    acc = {p: float((t == val.labels).mean()) for p, t in top.items()}
    card = runs["int8"].card.int8
    assert agreement >= 0.99 and abs(acc["float"] - acc["int8"]) <= 0.003
    assert abs(agreement - card.top1_agreement) <= 0.002 and abs(acc["int8"] - card.int8_accuracy) <= 0.002


@pytest.mark.data
def test_publish_int8_step_writes_a_graph_within_parity(tmp_path):
    """`publish`'s int8 step (static quantisation calibrated on 512 FER-2013 Training faces) on a
    copy of the shipped default: a smaller graph and parity within the targets, in the card's form."""
    from fer.evaluate import load_eval_data
    from fer.models.quantize import quantize_weights
    from fer.weights import int8_path

    data = fer2013_or_skip()
    w = weights_path(DEFAULT_WEIGHTS)
    for f in (w, card_path(w), onnx_path(w)):
        shutil.copy2(f, tmp_path / f.name)
    labels = ModelCard.read(card_path(w)).labels
    made = quantize_weights(tmp_path / w.name, load_eval_data(data, "Training", labels)[0],
                            load_eval_data(data, "PublicTest", labels)[0])
    assert made.parity_ok and made.n == 3589 and made.graph.file == int8_path(w).name
    assert sha256_of(tmp_path / made.graph.file) == made.graph.sha256
    assert (tmp_path / made.graph.file).stat().st_size < w.stat().st_size  # int8 < fp16
