"""The three loaders (and the class-folder reader) on tiny data sets written by the tests."""

import numpy as np
import pytest
from PIL import Image

from fer.data import load_class_folders, load_fer2013_csv, load_fer2013_folder, load_ferplus
from fer.data.datasets import ferplus_targets
from fer.labels import FER2013_LABELS, FERPLUS_LABELS


def _face(seed: int, size: int = 48) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size), dtype=np.uint8)


def _write(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def test_fer2013_folder_splits_by_prefix(tmp_path):
    _write(tmp_path / "train/happy/Training_1.png", _face(1))
    _write(tmp_path / "train/angry/Training_2.png", _face(2))
    _write(tmp_path / "test/sad/PublicTest_3.png", _face(3))
    _write(tmp_path / "test/surprise/PrivateTest_4.png", _face(4))
    _write(tmp_path / "test/surprise/PrivateTest_5.png", _face(5, 64))  # resized to 48
    train = load_fer2013_folder(tmp_path, "Training")
    assert len(train) == 2 and train.images.shape == (2, 48, 48)
    assert sorted(FER2013_LABELS[i] for i in train.labels) == ["angry", "happy"]
    pub = load_fer2013_folder(tmp_path, "PublicTest")
    assert [FER2013_LABELS[i] for i in pub.labels] == ["sad"]
    assert np.array_equal(pub.images[0], _face(3))  # PNG is lossless: pixels survive
    priv = load_fer2013_folder(tmp_path, "PrivateTest")
    assert len(priv) == 2 and set(priv.labels) == {FER2013_LABELS.index("surprise")}


def test_fer2013_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_fer2013_folder(tmp_path / "nope")
    with pytest.raises(ValueError):
        load_fer2013_folder(tmp_path, "Validation")
    (tmp_path / "train").mkdir()
    with pytest.raises(FileNotFoundError):
        load_fer2013_folder(tmp_path, "Training")


def test_fer2013_csv(tmp_path):
    rows = ["emotion,pixels,Usage"]
    for i, (emo, usage) in enumerate([(3, "Training"), (0, "Training"), (6, "PublicTest"), (5, "PrivateTest")]):
        rows.append(f"{emo},{' '.join(map(str, _face(i).ravel()))},{usage}")
    (tmp_path / "fer2013.csv").write_text("\n".join(rows) + "\n")
    train = load_fer2013_csv(tmp_path / "fer2013.csv", "Training")
    assert train.labels.tolist() == [3, 0]
    assert np.array_equal(train.images[0], _face(0))
    assert load_fer2013_csv(tmp_path / "fer2013.csv", "PrivateTest").labels.tolist() == [5]
    bad = tmp_path / "bad.csv"
    bad.write_text("emotion,pixels,Usage\n1,1 2 3,Training\n")
    with pytest.raises(ValueError, match="2304"):
        load_fer2013_csv(bad, "Training")


def test_ferplus_majority_and_votes(tmp_path):
    folder = tmp_path / "FER2013Test"
    # votes: neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF
    votes = {
        "fer0000001.png": [0, 8, 2, 0, 0, 0, 0, 0, 0, 0],  # happy
        "fer0000002.png": [1, 0, 0, 0, 0, 0, 0, 6, 3, 0],  # contempt; the single neutral vote is noise
        "fer0000003.png": [0, 0, 0, 0, 0, 0, 0, 0, 2, 8],  # not a face: dropped
        "fer0000004.png": [2, 0, 0, 0, 0, 0, 0, 0, 8, 0],  # unknown on top: dropped
    }
    lines = []
    for i, (name, v) in enumerate(votes.items()):
        _write(folder / name, _face(i))
        lines.append(f"{name},\"(0, 0, 48, 48)\"," + ",".join(map(str, v)))
    (folder / "label.csv").write_text("\n".join(lines) + "\n")
    d = load_ferplus(tmp_path, "PrivateTest")
    assert d.label_names == FERPLUS_LABELS
    assert [FERPLUS_LABELS[i] for i in d.labels] == ["happy", "contempt"]
    assert d.soft.shape == (2, 8) and np.allclose(d.soft.sum(1), 1)
    assert d.soft[0, FERPLUS_LABELS.index("happy")] == pytest.approx(0.8)
    assert d.soft[1, FERPLUS_LABELS.index("neutral")] == 0.0
    assert d.skipped["unknown_or_not_a_face"] == 2


def test_ferplus_targets_keep_mask():
    keep, _ = ferplus_targets(np.array([[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]], float))
    assert not keep[0]


def test_class_folders_aliases_unknown_and_unreadable(tmp_path):
    _write(tmp_path / "Happiness/a.png", _face(1))
    _write(tmp_path / "ANGER/b.png", _face(2))
    _write(tmp_path / "bored/c.png", _face(3))
    (tmp_path / "Happiness/broken.jpg").write_bytes(b"not an image")
    d = load_class_folders(tmp_path)
    assert sorted(FER2013_LABELS[i] for i in d.labels) == ["angry", "happy"]
    assert d.skipped == {"unknown_class:bored": 1, "unreadable": 1}
    assert len(d.no_face) == 0


def test_class_folders_keep_photos_without_a_face(tmp_path):
    """A reader that finds no face (returns None) does not shrink the data: the photo is kept in
    `no_face` with its label, so an evaluation can count it as wrong."""
    _write(tmp_path / "happy/face.png", _face(1))
    _write(tmp_path / "happy/blank.png", np.zeros((48, 48), np.uint8))
    _write(tmp_path / "sad/blank.png", np.zeros((48, 48), np.uint8))

    def reader(path):
        img = np.asarray(Image.open(path).convert("L"))
        return None if img.max() == 0 else img

    d = load_class_folders(tmp_path, reader=reader)
    assert len(d) == 1 and FER2013_LABELS[d.labels[0]] == "happy"
    assert sorted(FER2013_LABELS[i] for i in d.no_face) == ["happy", "sad"]
    assert sorted(d.no_face_names) == ["happy/blank.png", "sad/blank.png"]
    assert d.skipped == {}
    (tmp_path / "happy/face.png").unlink()
    none_found = load_class_folders(tmp_path, reader=reader)  # every photo without a face: still data
    assert len(none_found) == 0 and none_found.images.shape == (0, 48, 48) and len(none_found.no_face) == 2


def test_data_locations_are_one_place():
    from fer.data import DATA_ROOT, dataset_dir

    assert dataset_dir("fer2013") == DATA_ROOT / "fer2013"
    assert DATA_ROOT.name == "data" and DATA_ROOT.parent.name == "shared"
    with pytest.raises(ValueError, match="unknown data set"):
        dataset_dir("imagenet")


def test_pack_round_trip_with_ferplus_votes_and_chosen_splits(tmp_path):
    """The portable pack keeps the JPEG bytes, labels and splits, finds each FER+ face's votes
    by its pixels, and can leave splits out (the GPU training pack needs no PrivateTest)."""
    from fer.data.pack import build_pack, load_pack

    faces = {f"train/happy/Training_{i}.jpg": _face(i) for i in range(3)}
    faces["test/sad/PublicTest_9.jpg"] = _face(9)
    faces["test/sad/PrivateTest_8.jpg"] = _face(8)
    for name, arr in faces.items():
        _write(tmp_path / "fer" / name, arr)
    rows = []  # FER+ names faces by CSV row: the pack must match them by pixels
    for k, i in enumerate((2, 0, 1)):
        _write(tmp_path / "plus/FER2013Train" / f"fer{k:07d}.png", _face(i))
        votes = [0, 9, 1, 0, 0, 0, 0, 0, 0, 0] if i != 1 else [0, 0, 0, 0, 0, 0, 0, 0, 2, 8]  # face 1: NF
        rows.append(f"fer{k:07d}.png,\"(0, 0, 48, 48)\"," + ",".join(map(str, votes)))
    (tmp_path / "plus/FER2013Train/label.csv").write_text("\n".join(rows) + "\n")
    _write(tmp_path / "plus/FER2013Valid/fer0000000.png", _face(9))
    valid_votes = 'fer0000000.png,"(0, 0, 48, 48)",0,0,0,10,0,0,0,0,0,0\n'  # ten votes for sadness
    (tmp_path / "plus/FER2013Valid/label.csv").write_text(valid_votes)
    out = tmp_path / "pack.npz"
    report = build_pack(tmp_path / "fer", tmp_path / "plus", out, ("Training", "PublicTest"))
    assert report["n"] == 4 and report["Training"]["matched"] == 3 and "PrivateTest" not in report
    train = load_pack(out, "Training")
    assert len(train) == 3 and {FER2013_LABELS[i] for i in train.labels} == {"happy"}
    assert np.abs(train.images.astype(int) - np.stack([_face(i) for i in range(3)])).mean() < 20  # JPEG
    plus = load_pack(out, "Training", "ferplus")
    assert len(plus) == 2 and plus.soft[:, FERPLUS_LABELS.index("happy")] == pytest.approx([1.0, 1.0])
    assert [FERPLUS_LABELS[i] for i in load_pack(out, "PublicTest", "ferplus").labels] == ["sad"]
    joint = load_pack(out, "Training", "joint")  # every FER-2013 face, its label and its votes (or none)
    assert len(joint) == 3 and joint.label_names == FER2013_LABELS and joint.soft.shape == (3, 8)
    assert joint.soft[:, FERPLUS_LABELS.index("happy")] == pytest.approx([1.0, 0.0, 1.0])  # face 1: NF
    assert joint.skipped == {"no_ferplus_votes": 1}
    with pytest.raises(ValueError, match="no PrivateTest"):
        load_pack(out, "PrivateTest")


def test_joint_targets_mix_labels_votes_and_teachers():
    from fer.data.targets import JOINT_LABELS, joint_targets, joint_teachers, validation_targets

    labels = np.array([3, 6])  # happy, neutral
    votes = np.zeros((2, 8), np.float32)
    votes[0, 3] = 1.0  # face 1 has no FER+ votes
    t7 = np.full((2, 7), 1 / 7, np.float32)
    t8 = np.full((2, 8), 1 / 8, np.float32)
    plain = joint_targets(labels[:1], votes[:1], label_smoothing=0.0)  # no teacher needed: every face has votes
    assert plain.shape == (1, 15) and plain[0, 3] == 1 and plain[0, 7 + 3] == 1
    t = joint_targets(labels, votes, t7, t8, distill=0.5, label_smoothing=0.1)
    assert t.shape == (2, len(JOINT_LABELS)) and np.allclose(t[:, :7].sum(1), 1) and np.allclose(t[:, 7:].sum(1), 1)
    assert t[0, 3] == pytest.approx(0.5 * (0.9 + 0.1 / 7) + 0.5 / 7) and t[0, 7 + 3] == pytest.approx(0.5 + 0.5 / 8)
    assert np.allclose(t[1, 7:], 1 / 8)  # no votes: the teacher's distribution alone
    with pytest.raises(ValueError, match="teacher"):
        joint_targets(labels, votes)  # face 1 has no votes and there is no teacher
    p8 = np.zeros((1, 8), np.float32)
    p8[0, [3, 7]] = 0.5  # contempt is left out of the 7-class view and the rest renormalised
    t7, t8 = joint_teachers(np.eye(7, dtype=np.float32)[[6]], p8)
    assert t7[0, [3, 6]] == pytest.approx([0.5, 0.5]) and t8[0, [3, 7]] == pytest.approx([0.5, 0.5])
    q8 = np.zeros((1, 8), np.float32)
    q8[0, 6] = 1.0  # a second FER+ teacher: each head averages the teachers that can speak for it
    t7, t8 = joint_teachers(np.eye(7, dtype=np.float32)[[6]], p8, q8)
    assert t7[0, [3, 6]] == pytest.approx([1 / 3, 2 / 3]) and t8[0, [3, 6, 7]] == pytest.approx([0.25, 0.5, 0.25])
    t7, t8 = joint_teachers(np.eye(7, dtype=np.float32)[[6]], p8, q8, heads="own")
    assert t7[0, 6] == 1 and t8[0, [3, 6, 7]] == pytest.approx([0.25, 0.5, 0.25])  # FER+ ones: their head only
    t7, _ = joint_teachers(p8, q8, heads="own")  # no 7-class teacher: the FER+ ones speak for both heads
    assert t7[0, [3, 6]] == pytest.approx([0.5, 0.5])
    with pytest.raises(ValueError, match="heads"):
        joint_teachers(p8, heads="mine")
    with pytest.raises(ValueError, match="8-class"):
        joint_teachers(np.eye(7, dtype=np.float32)[[6]])
    v = validation_targets(labels, votes)
    assert v[0, 3] == 1 and v[1, 6] == 1 and v[1, 7:].sum() == 0


def test_teacher_outputs_are_computed_once_and_cached(tmp_path, monkeypatch):
    from fer.data import teacher

    images = np.stack([_face(i) for i in range(4)])
    first = teacher.teacher_probs(images, "fer2013_cnn_small", tta="flip", cache_dir=tmp_path)
    assert first.shape == (4, 7) and np.allclose(first.sum(1), 1, atol=1e-5)
    assert len(list(tmp_path.glob("*.npz"))) == 1

    def no_recompute(*a, **k):
        raise AssertionError("the cached outputs should have been used")

    monkeypatch.setattr("fer.classifier.EmotionClassifier", no_recompute)
    assert np.array_equal(teacher.teacher_probs(images, "fer2013_cnn_small", tta="flip", cache_dir=tmp_path), first)
    assert teacher.images_key(images) != teacher.images_key(images[::-1].copy())


def test_live_path_degradations_keep_shape_range_and_change_the_face():
    import torch

    from fer.data import augment

    x = torch.rand(6, 1, 48, 48)
    for step in augment.STEPS + augment.FACE_STEPS:
        y = step(x, torch.Generator().manual_seed(0))
        assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1, step.__name__
        assert not torch.allclose(y, x), step.__name__
    best = augment.jpeg(x, torch.Generator().manual_seed(0), quality=(100, 100))
    assert (best - x).abs().max() < 0.01  # quality 100 is nearly lossless: the DCT round trip is exact
    assert torch.equal(augment.degrade(x, 0.0, torch.Generator()), x)
    s = augment.head_turn_scale(1000, 0.3, torch.Generator().manual_seed(0), "cpu")
    assert 0.2 < (s > 1).float().mean() < 0.4 and s.max() <= 1.2


def test_glasses_are_drawn_on_the_eyes_and_nowhere_near_the_mouth():
    import torch

    from fer.data import augment

    x = torch.full((64, 1, 48, 48), 0.5)
    y = augment.eyewear(x, torch.Generator().manual_seed(0))
    changed = (y - x).abs()[:, 0] > 0.05
    eye_row = round(augment.EYES_48[0][1])
    assert changed[:, eye_row - 2:eye_row + 3].float().mean() > 0.2  # rims, lenses, bridge
    assert not changed[:, 30:].any()  # the mouth and chin untouched
    dark = (y[:, 0, eye_row, 14:17] < 0.3).all(1).float().mean()
    assert 0.15 < dark < 0.55  # about a third are sunglasses
