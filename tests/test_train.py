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
    fresh = init_from(model, "joint_resnet_m")
    assert fresh and all(k.startswith("head.") for k in fresh)
    shipped = load_state(weights_path("joint_resnet_m"))
    first = next(k for k in shipped if k.startswith("stem") and k.endswith("weight"))
    assert torch.equal(model.state_dict()[first], shipped[first])
    with pytest.raises(ValueError, match="no tensor"):
        init_from(create_model("cnn_small", 8), "joint_resnet_m")


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


def test_publish_ships_a_run_as_weights_graph_and_card(tmp_path, capsys):
    """train -> publish: the weights, their ONNX graph and a card with every test metric."""
    from fer.classifier import EmotionClassifier
    from fer.cli import main

    cfg = TrainConfig(model="cnn_small", epochs=1, batch_size=32, device="cpu", erase_p=0.0)
    data = _toy(64)
    train(cfg, data, data, tmp_path / "run", progress=False)
    test = _toy(24, seed=1)
    assert main(["publish", str(tmp_path / "run"), "--name", "toy", *publish_data(tmp_path, test)]) == 0
    card = ModelCard.read(tmp_path / "weights" / "toy.json")
    assert card.name == "toy" and card.onnx.file == "toy.onnx" and card.onnx.outputs == ("logits", "cam")
    assert set(card.metrics) == {f"{s}{t}" for s in ("PublicTest", "PrivateTest")
                                 for t in ("", " + flip TTA", " + flip_zoom TTA")}
    clf = EmotionClassifier(tmp_path / "weights" / "toy.safetensors")
    assert clf.backend == "onnx"
    acc = float((clf.predict_proba(test.images).argmax(1) == test.labels).mean())
    assert card.metric("PrivateTest").accuracy == pytest.approx(acc, abs=1e-4) and card.metric("PrivateTest").n == 24
    csv = tmp_path / "fer2013.csv"  # without Training rows there is nothing to calibrate int8 on: said, and how to skip
    csv.write_text("".join(line for line in csv.read_text().splitlines(True) if not line.rstrip().endswith(",Training")))
    again = ["publish", str(tmp_path / "run"), "--name", "toy2", "--data", str(csv), "--dest", str(tmp_path / "weights")]
    assert main(again) == 2 and "--no-int8" in capsys.readouterr().err
    assert main([*again, "--no-int8"]) == 0 and ModelCard.read(tmp_path / "weights" / "toy2.json").int8 is None
    q = card.int8  # the int8 copy, with its parity on PublicTest in the card
    assert (tmp_path / "weights" / q.graph.file).is_file() and q.n == 24 and q.parity_split == "PublicTest"
    assert q.float_accuracy == card.metric("PublicTest").accuracy
    # the run's wall time and CPU, for compare's training-time column
    from fer.commands.compare import training_time

    epochs = json.loads((tmp_path / "run" / "history.json").read_text())["history"]
    assert card.training["train_seconds"] == round(sum(e["seconds"] for e in epochs)) and card.training["trained_on"]
    assert training_time(card) == {"seconds": card.training["train_seconds"], "approx": False,
                                   "cpu": card.training["trained_on"]}


# --- the joint recipe: a FER-2013 head and a FER+ head, distillation, live-path degradations ---

def publish_data(folder, test) -> list[str]:
    """`test` as a fer2013.csv (Training rows to calibrate the int8 graph on, PublicTest and
    PrivateTest rows) and an empty weights folder in `folder`: `publish`'s --data and --dest."""
    rows = [f"{y},{' '.join(map(str, img.ravel()))},{split}" for split in ("Training", "PublicTest", "PrivateTest")
            for img, y in zip(test.images, test.labels)]
    (folder / "fer2013.csv").write_text("emotion,pixels,Usage\n" + "\n".join(rows) + "\n")
    (folder / "weights").mkdir()
    return ["--data", str(folder / "fer2013.csv"), "--dest", str(folder / "weights")]


def _joint_toy(n=192, seed=0):
    """The toy task with both targets: FER-2013 labels (angry/happy) and FER+ votes that agree."""
    from dataclasses import replace

    from fer.data.targets import JOINT_LABELS, joint_targets, validation_targets

    data = _toy(n, seed)
    votes = np.zeros((n, 8), np.float32)
    votes[np.arange(n), data.labels] = 1.0
    votes[::7] = 0.0  # faces without FER+ votes take the teacher's distribution
    t7 = np.eye(7, dtype=np.float32)[data.labels]
    t8 = np.eye(8, dtype=np.float32)[data.labels]
    train_set = replace(data, soft=joint_targets(data.labels, votes, t7, t8, distill=0.5), label_names=JOINT_LABELS)
    val_set = replace(data, soft=validation_targets(data.labels, votes), label_names=JOINT_LABELS)
    return train_set, val_set


def test_joint_training_scores_each_head_and_resumes(tmp_path):
    from fer.data.targets import head_sizes

    cfg = TrainConfig(model="cnn_small", epochs=3, batch_size=32, lr=1e-2, weight_decay=0.0, erase_p=0.0,
                      rotate_deg=0, scale=0, shift=0, ema_decay=0.5, device="cpu", soft_targets=True,
                      heads=head_sizes(), distill=0.5, degrade=0.2)
    train_set, val_set = _joint_toy()
    train(cfg, train_set, val_set, tmp_path, progress=False, stop_after=1)
    done = train(cfg, train_set, val_set, tmp_path, resume=True, progress=False)
    assert [h["epoch"] for h in done["history"]] == [1, 2, 3]
    assert all(len(h["val_acc_heads"]) == 2 for h in done["history"])
    assert done["best"]["val_acc"] > 0.8 and min(done["best"]["val_acc_heads"]) > 0.8
    card = ModelCard.read(tmp_path / "best.json")
    assert card.name == "joint_cnn_small" and len(card.labels) == 15
    assert card.training["recipe"]["heads"] == [7, 8]


def test_joint_loss_is_one_cross_entropy_per_head():
    from fer.data.targets import head_sizes

    cfg = TrainConfig(heads=head_sizes())
    logits = torch.randn(5, 15)
    target = torch.cat([torch.softmax(torch.randn(5, 7), 1), torch.softmax(torch.randn(5, 8), 1)], 1)
    expected = (torch.nn.functional.cross_entropy(logits[:, :7], target[:, :7])
                + torch.nn.functional.cross_entropy(logits[:, 7:], target[:, 7:]))
    assert torch.allclose(loss_fn(logits, target, cfg, None), expected)
    target[:, 7:] = 0  # no FER+ votes and no teacher: that head adds nothing
    assert torch.allclose(loss_fn(logits, target, cfg, None),
                          torch.nn.functional.cross_entropy(logits[:, :7], target[:, :7]))


def test_validation_accuracy_skips_faces_a_head_has_no_labels_for():
    from fer.train import validation_accuracy

    soft = np.zeros((3, 15), np.float32)
    soft[[0, 1, 2], [3, 3, 0]] = 1  # FER-2013 labels happy, happy, angry
    soft[0, 7 + 3] = soft[1, 7 + 6] = 1  # FER+ votes: happy, neutral; face 2 has none
    logits = np.zeros((3, 15), np.float32)
    logits[:, 3] = logits[:, 7 + 3] = 5  # always happy
    faces = FaceArrays(np.zeros((3, 48, 48), np.uint8), np.array([3, 3, 0]), FER2013_LABELS, soft=soft)
    assert validation_accuracy(logits, faces, (7, 8)) == [pytest.approx(2 / 3), 0.5]


def test_augment_with_degradations_keeps_shape_range_and_is_seeded():
    x = torch.rand(16, 1, 48, 48)
    cfg = TrainConfig(degrade=0.5)
    a = augment(x, cfg, torch.Generator().manual_seed(0))
    b = augment(x, cfg, torch.Generator().manual_seed(0))
    assert a.shape == x.shape and torch.equal(a, b) and a.min() >= 0 and a.max() <= 1


def test_one_head_models_from_a_joint_head():
    from fer.models import create_model
    from fer.models.heads import blend_fer2013, blend_logits, take_head

    joint = create_model("resnet_s", 15).eval()
    x = torch.randn(2, 1, 48, 48)
    with torch.no_grad():
        z = joint(x)
        for index, n, cols in ((0, 7, slice(0, 7)), (1, 8, slice(7, 15))):
            one = create_model("resnet_s", n).eval()
            one.load_state_dict(take_head(joint.state_dict(), (7, 8), index))
            assert torch.allclose(one(x), z[:, cols], atol=1e-5)
        mixed = create_model("resnet_s", 7).eval()
        mixed.load_state_dict(blend_fer2013(joint.state_dict(), (7, 8), 0.25))
        assert torch.allclose(mixed(x), blend_logits(z, (7, 8), 0.25), atol=1e-5)
        assert torch.allclose(blend_logits(z, (7, 8), 0.25), 0.25 * z[:, :7] + 0.75 * z[:, 7:14], atol=1e-6)
    with pytest.raises(ValueError):
        blend_fer2013(joint.state_dict(), (7, 8), 1.5)


def test_joint_heads_start_as_the_shipped_ferplus_classifier():
    from fer.models import create_model
    from fer.models.state import load_model
    from fer.train import init_heads_from

    joint = create_model("resnet_m", 15)
    init_from(joint, "ferplus_resnet_m")
    init_heads_from(joint, "ferplus_resnet_m", (7, 8))
    shipped = load_model("resnet_m", 8, "weights/ferplus_resnet_m.safetensors")
    x = torch.randn(2, 1, 48, 48)
    with torch.no_grad():
        z, ref = joint.eval()(x), shipped(x)
    assert torch.allclose(z[:, 7:], ref, atol=1e-4) and torch.allclose(z[:, :7], ref[:, :7], atol=1e-4)


def test_publish_makes_a_one_head_model_of_a_joint_run(tmp_path):
    """A joint run ships as an ordinary 7-class model (a blend of its heads) with graph and card."""
    from fer.classifier import EmotionClassifier
    from fer.cli import main
    from fer.data.targets import head_sizes
    from fer.models.heads import blend_logits
    from fer.models.state import load_model

    cfg = TrainConfig(model="cnn_small", epochs=1, batch_size=32, device="cpu", erase_p=0.0, soft_targets=True,
                      heads=head_sizes())
    train_set, val_set = _joint_toy(64)
    train(cfg, train_set, val_set, tmp_path / "run", progress=False)
    test = _toy(24, seed=1)
    common = publish_data(tmp_path, test)
    assert main(["publish", str(tmp_path / "run"), "--name", "toy", *common]) == 2  # a joint run needs --head
    assert main(["publish", str(tmp_path / "run"), "--name", "toy", "--head", "blend:0.5", *common]) == 0
    card = ModelCard.read(tmp_path / "weights" / "toy.json")
    assert card.labels == FER2013_LABELS and card.training["head"] == "blend:0.5" and card.onnx is not None
    joint = load_model("cnn_small", 15, tmp_path / "run" / "best.safetensors")
    x = (torch.from_numpy(test.images).float()[:, None] / 255 - 0.5) / 0.25
    with torch.no_grad():
        expected = torch.softmax(blend_logits(joint(x), (7, 8), 0.5), 1).numpy()
    got = EmotionClassifier(tmp_path / "weights" / "toy.safetensors").predict_proba(test.images)
    assert np.abs(got - expected).max() < 2e-3  # fp16 weights on disk


def test_resume_can_resize_the_run_to_the_time_left(tmp_path):
    """A run started for 4 epochs, stopped after 1, resumed for 2 in all: the schedule is the
    2-epoch one advanced by an epoch (its LR ends where a 2-epoch run's ends), and the card says so."""
    cfg = TrainConfig(model="cnn_small", epochs=4, batch_size=32, lr=1e-2, erase_p=0.0, device="cpu")
    data = _toy(64)
    train(cfg, data, data, tmp_path / "a", progress=False, stop_after=1)
    short = TrainConfig(**{**cfg.__dict__, "epochs": 2})
    done = train(short, data, data, tmp_path / "a", resume=True, progress=False)
    fresh = train(short, data, data, tmp_path / "b", progress=False)
    assert [h["epoch"] for h in done["history"]] == [1, 2]
    assert done["resized"] == [{"after_epoch": 1, "epochs_from": 4, "epochs_to": 2}]
    assert done["history"][-1]["lr"] == pytest.approx(fresh["history"][-1]["lr"], rel=1e-6)
    assert ModelCard.read(tmp_path / "a" / "best.json").training.get("resized") in (None, done["resized"])
    with pytest.raises(ValueError, match="more than"):
        train(TrainConfig(**{**cfg.__dict__, "epochs": 1}), data, data, tmp_path / "b", resume=True, progress=False)


# --- distillation on the plain FER-2013 task, and the warm-up ---

def test_distilled_targets_mix_labels_with_teachers():
    from fer.data.targets import distilled_targets, teachers_fer2013

    p7 = np.full((2, 7), 1 / 7, np.float32)
    p8 = np.zeros((2, 8), np.float32)
    p8[:, 7] = 0.5  # contempt, which FER-2013 lacks: left out, the rest renormalised
    p8[:, 3] = 0.5
    teacher = teachers_fer2013(p7, p8)
    assert np.allclose(teacher[:, 3], (1 / 7 + 1) / 2) and np.allclose(teacher.sum(1), 1)
    t = distilled_targets(np.array([0, 3]), teacher, 0.25)
    assert np.allclose(t.sum(1), 1) and np.allclose(t[0], 0.75 * np.eye(7)[0] + 0.25 * teacher[0])
    with pytest.raises(ValueError):
        teachers_fer2013(np.ones((2, 5)))


def test_fer2013_student_follows_its_teacher(tmp_path):
    """distill=1 with a teacher that swaps the two toy classes: the student learns the teacher, not
    the labels (the soft targets really drive the FER-2013 task), and its card says so."""
    from dataclasses import replace

    from fer.data.targets import distilled_targets

    data = _toy()
    swapped = np.eye(7, dtype=np.float32)[np.where(data.labels == 0, 3, 0)]
    cfg = TrainConfig(model="cnn_small", epochs=3, batch_size=32, lr=1e-2, weight_decay=0.0, erase_p=0.0,
                      rotate_deg=0, scale=0, shift=0, ema_decay=0.5, device="cpu", soft_targets=True,
                      label_smoothing=0.0, distill=1.0, teachers=("swapped",))
    done = train(cfg, replace(data, soft=distilled_targets(data.labels, swapped, 1.0)), data, tmp_path,
                 progress=False)
    assert done["history"][-1]["val_acc"] < 0.2, done["history"]  # scored on the labels the teacher contradicts
    card = ModelCard.read(tmp_path / "best.json")
    assert card.name == "fer2013_cnn_small" and card.training["recipe"]["teachers"] == ["swapped"]


def test_train_command_distils_a_shipped_teacher_on_fer2013(tmp_path, capsys):
    """`fer train --task fer2013 --distill`: the shipped CNN's outputs on the training faces,
    computed once into the cache and recorded in the card."""
    from fer.classifier import EmotionClassifier
    from fer.cli import main

    data = _toy(64)
    csv = publish_data(tmp_path, data)[1]
    common = ["train", "--task", "fer2013", "--data", csv, "--model", "cnn_small", "--epochs", "1",
              "--batch-size", "32", "--device", "cpu", "--teachers", "joint_resnet_m",
              "--teacher-cache", str(tmp_path / "cache"), "--quiet"]
    assert main([*common, "--distill", "0.5", "--out", str(tmp_path / "run")]) == 0
    (cached,) = (tmp_path / "cache").glob("joint_resnet_m-flip-*.npz")
    with np.load(cached) as z:
        expected = EmotionClassifier("joint_resnet_m", precision="float").predict_proba(data.images, tta="flip")
        assert np.allclose(z["probs"], expected, atol=1e-5)
    card = ModelCard.read(tmp_path / "run" / "best.json")
    assert card.name == "fer2013_cnn_small" and card.labels == FER2013_LABELS
    assert card.training["recipe"]["distill"] == 0.5 and card.training["recipe"]["teachers"] == ["joint_resnet_m"]
    assert main([*common, "--task", "joint", "--distill", "0.5", "--out", str(tmp_path / "joint")]) == 2
    assert "8-class (FER+) model among --teachers" in capsys.readouterr().err


def test_warmup_option_sets_the_rise_of_each_schedule():
    from fer.train import lr_schedule

    def lrs(**kw):
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        sched = lr_schedule(opt, TrainConfig(lr=1.0, epochs=10, **kw), steps=10)
        out = []
        for _ in range(100):
            out.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        return np.array(out)

    assert lrs(schedule="onecycle").argmax() == 14  # the default: 15% of the run
    assert lrs(schedule="onecycle", warmup_epochs=5).argmax() == 49
    assert lrs(schedule="cosine")[0] == 1.0  # no warm-up unless asked
    cos = lrs(schedule="cosine", warmup_epochs=3)
    assert cos[0] == pytest.approx(0.01) and cos.argmax() == 30 and np.all(np.diff(cos[:31]) > 0)
    assert np.all(np.diff(cos[30:]) <= 0)
    with pytest.raises(ValueError):
        lrs(schedule="onecycle", warmup_epochs=10)


def test_ema_warm_up_follows_a_network_trained_from_scratch():
    """With a fixed 0.999 the average of a fresh network is still mostly its random start after a
    thousand steps; with the warm-up it follows the trained weights from the start."""
    from torch.optim.swa_utils import AveragedModel

    from fer.train import ema_update

    def averaged(warmup: bool) -> float:
        model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.BatchNorm1d(4))
        ema = AveragedModel(model, multi_avg_fn=ema_update(0.999, warmup), use_buffers=True)
        ema.update_parameters(model)  # the first update copies the start
        with torch.no_grad():
            model[0].weight.fill_(1.0)  # the 'trained' weights, far from the start
        for _ in range(200):
            ema.update_parameters(model)
        return float((ema.module[0].weight - 1.0).abs().max())

    assert averaged(warmup=True) < 0.05 < averaged(warmup=False)
