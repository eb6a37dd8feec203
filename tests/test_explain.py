"""Grad-CAM: the torch-free maps of the ONNX graph equal PyTorch's gradient Grad-CAM, calls
are safe from many threads, and networks without activation maps fall back (logged)."""

import logging
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from fer.align import align_faces
from fer.classifier import EmotionClassifier
from fer.explain import grad_cam, overlay, torch_grad_cam, upsample
from fer.weights import ModelCard, card_path, weights_path


@pytest.fixture(scope="module")
def crop(astronaut, recognizer):
    return align_faces(astronaut, recognizer.detect(astronaut))[0]


@pytest.fixture(scope="module")
def clf():
    return EmotionClassifier()


def test_map_shape_finite_normalised(crop, clf):
    cam = grad_cam(clf, crop)
    assert cam.method == "onnx"
    assert cam.heatmap.shape == crop.shape
    assert np.isfinite(cam.heatmap).all()
    assert cam.heatmap.min() >= 0 and cam.heatmap.max() == pytest.approx(1.0)
    assert cam.target == max(cam.probs, key=cam.probs.get) == "happy"  # a smiling astronaut


def test_map_changes_with_target(crop, clf):
    a, b = grad_cam(clf, crop, "happy").heatmap, grad_cam(clf, crop, "angry").heatmap
    assert not np.allclose(a, b, atol=0.05)


def test_unknown_target_and_overlay(crop, clf):
    with pytest.raises(ValueError, match="bored"):
        grad_cam(clf, crop, "bored")
    img = overlay(crop, grad_cam(clf, crop).heatmap)
    assert img.shape == (192, 192, 3) and img.dtype == np.uint8


@pytest.mark.parametrize("name", ["joint_resnet_m", "ferplus_resnet_m", "fer2013_cnn_small"])
def test_graph_maps_equal_torch_grad_cam(name, crop):
    """The graph's maps (head weights x feature maps, no gradients) against autograd Grad-CAM."""
    onnx = EmotionClassifier(name)
    x = onnx.preprocess(crop)
    for target in onnx.labels:
        got = grad_cam(onnx, crop, target)
        logits, ref, idx = torch_grad_cam(onnx.model, x, onnx.labels, target)
        assert got.target == onnx.labels[idx] == target
        assert np.abs(got.heatmap - upsample(ref, crop.shape[-1])).max() <= 1e-4
        p = np.exp(logits / onnx.temperature)
        assert got.probs[target] == pytest.approx(p[idx] / p.sum(), abs=1e-5)


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_parallel_calls_equal_serial(backend, crop):
    import cv2
    from skimage import data

    clf = EmotionClassifier(backend=backend)
    n = 4 if backend == "onnx" else 1  # autograd is slow on a busy CPU
    crops = [crop] + [cv2.resize((f * 255).astype(np.uint8), (48, 48)) for f in data.lfw_subset()[:n]]
    jobs = [(c, t) for c in crops for t in clf.labels]
    serial = [grad_cam(clf, c, t) for c, t in jobs]
    with ThreadPoolExecutor(8) as pool:
        parallel = list(pool.map(lambda job: grad_cam(clf, *job), jobs * 2))
    for s, p in zip(serial * 2, parallel):
        assert p.target == s.target and p.method == ("onnx" if backend == "onnx" else "torch")
        assert np.allclose(p.heatmap, s.heatmap, atol=1e-6)
    shown = [s.heatmap.tobytes() for s in serial if s.heatmap.max() > 0]  # others: no positive evidence
    assert len(shown) >= len(crops) and len(set(shown)) == len(shown)  # a different map for every job


def test_graph_without_maps_falls_back_to_torch_and_says_so(crop, tmp_path, caplog):
    from fer.models.export import export_onnx

    w = weights_path("fer2013_cnn_small")
    (tmp_path / w.name).write_bytes(w.read_bytes())
    card = ModelCard.read(card_path(w))
    info = export_onnx(EmotionClassifier(w, backend="torch").model, card, tmp_path / w.name,
                       tmp_path / "no_maps.onnx", cam=False)
    card.with_onnx(info).write(card_path(tmp_path / w.name))
    plain = EmotionClassifier(tmp_path / w.name)
    assert plain.backend == "onnx" and plain.outputs == ("logits",)
    with caplog.at_level(logging.WARNING, logger="fer.explain"):
        got = grad_cam(plain, crop, "sad")
    assert got.method == "torch" and "no activation maps" in caplog.text
    assert np.abs(got.heatmap - grad_cam(EmotionClassifier(w), crop, "sad").heatmap).max() <= 1e-4


def _flat(num_classes, in_channels=1):
    """A network with no spatial maps (flatten, one linear layer), registered for the test below."""
    from torch import nn

    return nn.Sequential(nn.Flatten(), nn.Linear(in_channels * 48 * 48, num_classes))


def test_network_without_feature_maps_is_refused(crop, tmp_path, caplog):
    """A network that does not end in maps + pooling: its graph has none, and Grad-CAM says why."""
    from fer.labels import FER2013_LABELS
    from fer.models import ModelSpec, create_model, list_models, register
    from fer.models.export import export_onnx
    from fer.models.state import load_model, save_weights

    if "test_flat" not in list_models():
        register(ModelSpec("test_flat", _flat, description="flatten + linear (tests only)"))
    save_weights(create_model("test_flat", 7), tmp_path / "flat.safetensors")
    model = load_model("test_flat", 7, tmp_path / "flat.safetensors")  # the fp16 values, as publish does
    card = ModelCard("flat", "test_flat", FER2013_LABELS, 48, 1, (0.5,), (0.25,))
    with caplog.at_level(logging.WARNING, logger="fer.models.export"):
        card = card.with_onnx(export_onnx(model, card, tmp_path / "flat.safetensors", tmp_path / "flat.onnx"))
    assert card.onnx.outputs == ("logits",) and "global average pooling" in caplog.text
    card.write(tmp_path / "flat.json")
    flat = EmotionClassifier(tmp_path / "flat.safetensors")
    assert flat.backend == "onnx"
    with pytest.raises(ValueError, match="convolutional"):
        grad_cam(flat, crop)


def test_a_vit_is_explained_by_occlusion_where_the_smile_is(crop):
    """The shipped ViT's final tokens have each seen the whole face, so its activation map is flat
    and would point nowhere; hiding parts of the face shows the smile carrying 'happy'."""
    from fer.explain import occlusion_map

    vit = EmotionClassifier("joint_vit_s8")
    logits, cams = vit.run(vit.preprocess(crop), ("logits", "cam"))
    flat = cams[0, logits[0].argmax()]
    assert flat.std() < 0.25 * flat.mean()
    cam = grad_cam(vit, crop)
    assert (cam.method, cam.method_name, cam.target) == ("occlusion", "occlusion", "happy")
    assert cam.heatmap.shape == crop.shape and cam.heatmap.max() == pytest.approx(1.0)
    rows = cam.heatmap.mean(1)
    assert rows[30:].mean() > 2 * rows[:18].mean()  # the mouth, not the forehead
    logits, drop, idx = occlusion_map(vit, crop, "happy")
    assert vit.labels[idx] == "happy" and logits.shape == (len(vit.labels),)
    assert drop.max() > 0.05  # hiding the smile costs 'happy' real probability
