"""The training loop on a tiny synthetic task: it learns, checkpoints every epoch and resumes."""

import json

import numpy as np
import pytest
import torch

from fer.data import FaceArrays
from fer.labels import FER2013_LABELS
from fer.train import TrainConfig, augment, class_weights, init_from, loss_fn, train
from fer.weights import ModelCard


def _toy(n=192, seed=0):
    """Bright-top vs bright-bottom faces (flip-invariant): learnable in a few steps."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    img = rng.integers(0, 60, (n, 48, 48)).astype(np.uint8)
    for i, y in enumerate(labels):
        img[i, :24] += 150 if y == 0 else 0
        img[i, 24:] += 150 if y == 1 else 0
    return FaceArrays(img, labels.astype(np.int64) * 3, FER2013_LABELS)  # angry=0 vs happy=3


def test_train_checkpoint_and_resume(tmp_path):
    cfg = TrainConfig(model="cnn_small", epochs=3, batch_size=32, lr=1e-2, optimizer="adamw",
                      weight_decay=0.0, erase_p=0.0, rotate_deg=0, scale=0, shift=0, ema_decay=0.5, device="cpu")
    data = _toy()
    first = train(cfg, data, data, tmp_path, progress=False, stop_after=2)  # "interrupted" after 2
    assert (tmp_path / "last.pt").is_file() and (tmp_path / "best.safetensors").is_file()
    card = json.loads((tmp_path / "best.json").read_text())
    assert card["architecture"] == "cnn_small" and card["labels"] == list(FER2013_LABELS)
    typed = ModelCard.read(tmp_path / "best.json")
    assert typed.training["recipe"]["epochs"] == 3 and typed.temperature == 1.0 and typed.onnx is None
    assert len(first["history"]) == 2
    resumed = train(cfg, data, data, tmp_path, resume=True, progress=False)
    assert [h["epoch"] for h in resumed["history"]] == [1, 2, 3]
    assert resumed["best"]["val_acc"] > 0.8


def test_augment_keeps_shape_range_and_is_seeded():
    x = torch.rand(8, 1, 48, 48)
    a = augment(x, TrainConfig(), torch.Generator().manual_seed(0))
    b = augment(x, TrainConfig(), torch.Generator().manual_seed(0))
    assert a.shape == x.shape and torch.equal(a, b)
    assert a.min() >= 0 and a.max() <= 1


def test_class_weights_favour_rare_classes():
    w = class_weights(np.array([0] * 90 + [1] * 10), 2, power=1.0)
    assert w[1] > w[0]
    assert np.isclose((w[np.array([0] * 90 + [1] * 10)]).mean(), 1.0)


@pytest.mark.parametrize("imbalance", ["none", "class_weights", "focal"])
def test_losses_finite_with_soft_and_hard_targets(imbalance):
    cfg = TrainConfig(imbalance=imbalance)
    logits = torch.randn(4, 7)
    w = torch.ones(7)
    assert torch.isfinite(loss_fn(logits, torch.tensor([0, 1, 2, 3]), cfg, w))
    soft = torch.softmax(torch.randn(4, 7), 1)
    assert torch.isfinite(loss_fn(logits, soft, cfg, w))


def test_init_from_shipped_weights_keeps_all_but_a_new_head():
    from fer.models import create_model
    from fer.models.state import load_state
    from fer.weights import weights_path

    model = create_model("resnet_m", 8)  # FER+ has one class more than the FER-2013 weights
    fresh = init_from(model, "fer2013_resnet_m")
    assert fresh and all(k.startswith("head.") for k in fresh)
    shipped = load_state(weights_path("fer2013_resnet_m"))
    first = next(k for k in shipped if k.startswith("stem") and k.endswith("weight"))
    assert torch.equal(model.state_dict()[first], shipped[first])
    with pytest.raises(ValueError, match="no tensor"):
        init_from(create_model("cnn_small", 8), "fer2013_resnet_m")


class _RunsCode:
    """Unpickling this creates `marker`: what a crafted checkpoint could do with any code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_resume_refuses_a_checkpoint_that_would_run_code(tmp_path):
    ckpt, marker = tmp_path / "last.pt", tmp_path / "pwned"
    torch.save({"model": {}, "epoch": 0, "payload": _RunsCode(marker)}, ckpt)
    cfg = TrainConfig(model="cnn_small", epochs=1, batch_size=32, device="cpu")
    data = _toy(64)
    with pytest.raises(ValueError, match="refusing"):
        train(cfg, data, data, tmp_path, resume=True, progress=False)
    assert not marker.exists()
    torch.load(ckpt, weights_only=False)  # the file is truly malicious: a full unpickle runs it
    assert marker.exists()


def test_publish_ships_a_run_as_weights_graph_and_card(tmp_path):
    """train -> publish: the weights, their ONNX graph and a card with every test metric."""
    from fer.classifier import EmotionClassifier
    from fer.cli import main

    cfg = TrainConfig(model="cnn_small", epochs=1, batch_size=32, device="cpu", erase_p=0.0)
    data = _toy(64)
    train(cfg, data, data, tmp_path / "run", progress=False)
    test = _toy(24, seed=1)
    rows = [f"{y},{' '.join(map(str, img.ravel()))},{split}" for split in ("PublicTest", "PrivateTest")
            for img, y in zip(test.images, test.labels)]
    (tmp_path / "fer2013.csv").write_text("emotion,pixels,Usage\n" + "\n".join(rows) + "\n")
    (tmp_path / "weights").mkdir()
    assert main(["publish", str(tmp_path / "run"), "--name", "toy", "--data", str(tmp_path / "fer2013.csv"),
                 "--dest", str(tmp_path / "weights")]) == 0
    card = ModelCard.read(tmp_path / "weights" / "toy.json")
    assert card.name == "toy" and card.onnx.file == "toy.onnx" and card.onnx.outputs == ("logits", "cam")
    assert set(card.metrics) == {f"{s}{t}" for s in ("PublicTest", "PrivateTest")
                                 for t in ("", " + flip TTA", " + flip_zoom TTA")}
    clf = EmotionClassifier(tmp_path / "weights" / "toy.safetensors")
    assert clf.backend == "onnx"
    acc = float((clf.predict_proba(test.images).argmax(1) == test.labels).mean())
    assert card.metric("PrivateTest").accuracy == pytest.approx(acc, abs=1e-4) and card.metric("PrivateTest").n == 24
