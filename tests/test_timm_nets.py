"""The timm networks (fer.models.timm_nets): sized for 48x48 grey faces, trained by `fer train`,
published with their class activation maps, and explained from the ONNX graph alone."""

import numpy as np
import pytest
import torch

from fer.align import align_faces
from fer.classifier import EmotionClassifier
from fer.cli import main
from fer.explain import grad_cam, torch_grad_cam, upsample
from fer.models import create_model, get_spec
from fer.models.export import gap_linear_head
from fer.weights import ModelCard
from tests.test_runtime_imports import run_fresh
from tests.test_train import _toy, publish_data

# name -> (parameters with 7 classes, final feature maps (C, h, w))
NETS = {"vit_s4": (2_759_383, (192, 12, 12)), "vit_s8": (2_872_567, (192, 6, 6)),
        "effnet_b0": (4_015_939, (1280, 3, 3))}


@pytest.fixture(scope="module", autouse=True)
def _one_pool():
    """Torch's pool sized like the library's (fer.runtime): a 2-core pool on a busy 2-core machine
    spin-waits, and a step of these many small ops then takes seconds instead of milliseconds."""
    from fer import runtime

    runtime.apply_threads()


@pytest.fixture(scope="module")
def crop(astronaut, recognizer):
    return align_faces(astronaut, recognizer.detect(astronaut))[0]


@pytest.fixture(scope="module", params=sorted(NETS))
def published(request, tmp_path_factory):
    """`fer train` (one epoch on toy faces) then `fer publish --no-int8`: (name, weights path)."""
    name, folder = request.param, tmp_path_factory.mktemp(request.param)
    args = publish_data(folder, _toy(32))
    assert main(["train", "--model", name, "--data", args[1], "--epochs", "1", "--batch-size", "32",
                 "--device", "cpu", "--out", str(folder / "run"), "--quiet"]) == 0
    assert main(["publish", str(folder / "run"), "--name", name, "--no-int8", *args]) == 0
    return name, folder / "weights" / f"{name}.safetensors"


@pytest.mark.parametrize("name", sorted(NETS))
def test_registered_for_48px_grey_faces(name):
    spec = get_spec(name)
    assert (spec.input_size, spec.in_channels, spec.mean, spec.std) == (48, 1, (0.5,), (0.25,))
    assert "timm" in spec.description
    assert spec.cpu_bf16 == (name != "effnet_b0")  # bf16 depthwise convolutions are slower on CPU


@pytest.mark.parametrize("name", sorted(NETS))
def test_shapes_parameters_and_a_gap_linear_head(name):
    n_params, maps = NETS[name]
    model = create_model(name, 7).eval()
    assert sum(p.numel() for p in model.parameters()) == n_params
    assert gap_linear_head(model) is model.head[-1]  # the form whose CAM needs no gradients
    x = torch.randn(3, 1, 48, 48)
    with torch.no_grad():
        a, logits = model.features(x), model(x)
    assert a.shape == (3, *maps) and logits.shape == (3, 7)
    assert torch.allclose(logits, model.head[-1](a.mean((2, 3))), atol=1e-5)


def test_vit_maps_are_its_final_norm_patch_tokens():
    """144 tokens, one per 4x4 pixels, no class token; each map column is one token after the norm."""
    vit = create_model("vit_s4", 7).eval()
    assert vit.vit.num_prefix_tokens == 0 and vit.vit.patch_embed.num_patches == 144
    assert isinstance(vit.vit.norm, torch.nn.LayerNorm)  # the final norm before the pool, not after it
    x = torch.randn(2, 1, 48, 48)
    with torch.no_grad():
        tokens, maps = vit.vit.forward_features(x), vit.features(x)
    assert tokens.shape == (2, 144, 192)
    assert torch.equal(maps[:, :, 1, 5], tokens[:, 1 * 12 + 5])  # row-major token order


def test_published_graph_matches_torch_with_maps(published):
    """The ONNX graph's logits and activation maps equal PyTorch's (same fp16 weights), batch 1 and 5."""
    name, weights = published
    card = ModelCard.read(weights.with_suffix(".json"))
    assert card.architecture == name and card.onnx.outputs == ("logits", "cam")
    onnx, model = EmotionClassifier(weights), EmotionClassifier(weights, backend="torch").model
    assert onnx.backend == "onnx"
    x = onnx.preprocess(_toy(5, seed=2).images)
    for batch in (x[:1], x):
        logits, cams = onnx.run(batch, ("logits", "cam"))
        with torch.no_grad():
            a = model.features(torch.from_numpy(batch))
            ref_logits = model.head(a).numpy()
            ref_cams = torch.einsum("nkhw,ck->nchw", a, model.head[-1].weight).numpy()
        assert cams.shape == (len(batch), 7, *NETS[name][1][1:])
        assert np.abs(logits - ref_logits).max() <= 1e-4
        assert np.abs(cams - ref_cams).max() <= 1e-4 * max(1.0, np.abs(ref_cams).max())
        assert np.abs(cams - ref_cams).max() <= 1e-3 * np.abs(ref_cams).max()  # not just small numbers


def test_heat_map_from_the_graph_equals_gradient_grad_cam(published, crop):
    name, weights = published
    clf = EmotionClassifier(weights)
    x = clf.preprocess(crop)
    shown = 0
    _, cams = clf.run(x, ("logits", "cam"))
    for idx, target in enumerate(clf.labels):
        _, ref, _ = torch_grad_cam(clf.model, x, clf.labels, target)
        assert ref.shape == NETS[name][1][1:]
        got = upsample(cams[0, idx], crop.shape[-1])
        assert got.shape == crop.shape and np.isfinite(got).all()
        assert np.abs(got - upsample(ref, crop.shape[-1])).max() <= 1e-4
        shown += got.max() == pytest.approx(1.0)
    assert shown  # some emotion has positive evidence to show
    # What users see: the graph's map, except for a ViT (flat maps; occlusion, fer.explain).
    method = grad_cam(clf, crop).method
    assert method == ("occlusion" if name.startswith("vit") else "onnx")


def test_explain_command_writes_the_picture(published, astronaut, tmp_path):
    from PIL import Image

    _, weights = published
    Image.fromarray(astronaut).save(tmp_path / "astronaut.jpg")
    out = tmp_path / "cam.png"
    photo = tmp_path / "astronaut.jpg"
    assert main(["explain", str(photo), "--weights", str(weights), "--out", str(out)]) == 0
    assert Image.open(out).size == (192, 192)


def test_explaining_needs_neither_torch_nor_timm(published, crop, tmp_path):
    """What the photo tab runs (the graph's maps, or occlusion for a ViT) in an interpreter that
    never loads torch or timm."""
    np.save(tmp_path / "crop.npy", crop)
    out = run_fresh("""
import sys, numpy as np
from fer.classifier import EmotionClassifier
from fer.explain import grad_cam
cam = grad_cam(EmotionClassifier(sys.argv[1]), np.load(sys.argv[2]))
result = [cam.method, list(cam.heatmap.shape)]
""", published[1], tmp_path / "crop.npy")
    method = "occlusion" if published[0].startswith("vit") else "onnx"
    assert out == {"heavy": [], "result": [method, [48, 48]]}
