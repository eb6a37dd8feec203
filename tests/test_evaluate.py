"""Evaluation on the real FER-2013 and FER+ test splits (skips without ../shared/data)."""

import numpy as np
import pytest
from conftest import CLIPS, FER2013, FERPLUS, WILD, needs_clips, needs_fer2013, needs_ferplus, needs_wild

from fer.evaluate import detect_layout, load_eval_data
from fer.labels import FER2013_LABELS, FERPLUS_LABELS

FERPLUS_HEADLINE = "ferplus_resnet_m"  # the FER+ model the README reports


@needs_fer2013
def test_layout_and_privatetest_size():
    assert detect_layout(FER2013) == "fer2013"
    faces, layout = load_eval_data(FER2013, "PrivateTest", FER2013_LABELS)
    assert len(faces) == 3589


@needs_fer2013
def test_shipped_model_beats_chance_by_far_on_privatetest():
    from fer.classifier import EmotionClassifier
    from fer.evaluate import evaluate

    clf = EmotionClassifier()
    faces, _ = load_eval_data(FER2013, "PrivateTest", clf.labels)
    report, probs = evaluate(clf, faces)
    assert report.n == 3589
    assert report.accuracy > 0.6  # the card reports the exact figure; chance is 0.25 (majority class)
    assert np.allclose(probs.sum(1), 1, atol=1e-4)


def test_eight_class_model_on_seven_class_data_maps_by_name(tmp_path):
    from PIL import Image

    for cls in ("happy", "contempt"):
        (tmp_path / cls).mkdir()
        Image.fromarray(np.zeros((48, 48), np.uint8)).save(tmp_path / cls / "a.png")
    faces, layout = load_eval_data(tmp_path, "PrivateTest", FERPLUS_LABELS)
    assert layout == "class_folders"
    assert sorted(FERPLUS_LABELS[i] for i in faces.labels) == ["contempt", "happy"]
    faces7, _ = load_eval_data(tmp_path, "PrivateTest", FER2013_LABELS)
    assert faces7.skipped == {"unknown_class:contempt": 1}


@needs_ferplus
def test_ferplus_card_matches_a_fresh_evaluation():
    """The headline FER+ figure (README, model card) is what the shipped file scores today."""
    from fer.classifier import EmotionClassifier
    from fer.evaluate import evaluate

    clf = EmotionClassifier(FERPLUS_HEADLINE, tta="flip")
    faces, _ = load_eval_data(FERPLUS, "PrivateTest", clf.labels)
    report, _ = evaluate(clf, faces)
    card = clf.card.metric("PrivateTest", "flip")
    assert report.n == card.n == 3545
    assert report.accuracy == pytest.approx(card.accuracy, abs=6e-4)


def test_min_agreement_keeps_faces_with_a_clear_majority(tmp_path):
    from PIL import Image

    folder = tmp_path / "FER2013Test"
    folder.mkdir()
    # votes: neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF
    votes = [[0, 8, 2, 0, 0, 0, 0, 0, 0, 0],  # happy 0.8: kept
             [4, 4, 2, 0, 0, 0, 0, 0, 0, 0],  # a tie at 0.4: dropped at 0.5
             [5, 0, 0, 5, 0, 0, 0, 0, 0, 0]]  # exactly half: not more than half, dropped
    rows = []
    for i, v in enumerate(votes):
        Image.fromarray(np.full((48, 48), i * 40, np.uint8)).save(folder / f"fer{i:07d}.png")
        rows.append(f"fer{i:07d}.png,\"(0, 0, 48, 48)\"," + ",".join(map(str, v)))
    (folder / "label.csv").write_text("\n".join(rows) + "\n")
    every, _ = load_eval_data(tmp_path, "PrivateTest", FERPLUS_LABELS)
    strict, _ = load_eval_data(tmp_path, "PrivateTest", FERPLUS_LABELS, min_agreement=0.5)
    assert len(every) == 3 and len(strict) == 1
    assert FERPLUS_LABELS[strict.labels[0]] == "happy" and strict.skipped["agreement<=0.5"] == 2
    (tmp_path / "folders" / "happy").mkdir(parents=True)
    with pytest.raises(ValueError, match="FER\\+ votes"):
        load_eval_data(tmp_path / "folders", "PrivateTest", FER2013_LABELS, min_agreement=0.5)


def test_photos_without_a_face_count_as_wrong(tmp_path, astronaut):
    """Through the detector, a photo where no face is found stays in n as a wrong answer."""
    from PIL import Image

    from fer.classifier import EmotionClassifier
    from fer.detection import FaceDetector
    from fer.evaluate import detecting_reader, evaluate

    (tmp_path / "happy").mkdir()
    (tmp_path / "sad").mkdir()
    Image.fromarray(astronaut).save(tmp_path / "happy" / "astronaut.jpg")
    Image.fromarray(np.full((200, 200, 3), 128, np.uint8)).save(tmp_path / "happy" / "wall.jpg")
    Image.fromarray(np.full((200, 200, 3), 90, np.uint8)).save(tmp_path / "sad" / "wall.jpg")
    clf = EmotionClassifier()
    faces, layout = load_eval_data(tmp_path, "PrivateTest", clf.labels, detecting_reader(FaceDetector()))
    assert layout == "class_folders" and len(faces) == 1 and len(faces.no_face) == 2
    report, probs = evaluate(clf, faces)
    assert report.n == 3 and probs.shape == (1, len(clf.labels))
    assert report.no_prediction == {"happy": 1, "sad": 1}
    assert report.per_class["sad"].recall == 0.0 and report.accuracy <= 1 / 3
    assert sorted(report.extra["no_face"]) == ["happy/wall.jpg", "sad/wall.jpg"]


@needs_wild
def test_wild_photos_load_through_the_detector_layout():
    from fer.evaluate import detect_layout

    assert detect_layout(WILD) == "class_folders"
    counts = {d.name: len(list(d.iterdir())) for d in WILD.iterdir() if d.is_dir()}
    assert sum(counts.values()) == 1272  # shared/data/wild/README.md


@needs_clips
def test_uncertain_share_on_a_real_clip():
    """The live path over a real clip: faces are found in most frames, and the share shown as
    'uncertain' follows the threshold (none below 0, all below 1.01)."""
    from fer.evaluate import uncertain_share
    from fer.labels import UNCERTAIN_BELOW
    from fer.pipeline import EmotionPipeline
    from fer.recognizer import EmotionRecognizer
    from fer.video import iter_frames

    pipeline = EmotionPipeline(EmotionRecognizer())
    clip = CLIPS / "fer_test_clip.mp4"
    frames = list(iter_frames(clip, max_frames=40))
    r = uncertain_share(pipeline, frames, UNCERTAIN_BELOW, clip.name)
    assert r.frames == 40 and r.face_frames >= 30  # one person, face turned down but visible
    assert 0.0 <= r.share <= 1.0 and 0.14 < r.median_confidence <= 1.0
    assert uncertain_share(pipeline, frames, 0.0).uncertain == 0
    assert uncertain_share(pipeline, frames, 1.01).share == 1.0
    assert uncertain_share(pipeline, frames, 1.01).negative == 0  # every face uncertain: none shown negative
    assert 0.0 <= r.negative_share <= 1.0 and r.to_dict()["negative_share"] == r.negative_share
    assert r.to_dict()["share"] == r.share


@needs_fer2013
def test_compare_puts_wild_photos_beside_the_test_split(tmp_path, astronaut):
    """`fer compare` on a tiny wild folder: the photo without a face is in n and counted wrong."""
    import json

    from PIL import Image

    from fer.cli import main

    for cls, img in (("happy", astronaut), ("sad", np.full((120, 120, 3), 100, np.uint8))):
        (tmp_path / "wild" / cls).mkdir(parents=True)
        Image.fromarray(img).save(tmp_path / "wild" / cls / "a.jpg")
    out = tmp_path / "compare.json"
    assert main(["compare", "--models", "fer2013_cnn_small", "--tta", "none", "--baseline", "",
                 "--wild", str(tmp_path / "wild"), "--json", str(out), "--max-frames", "12", "--select",
                 "--default", "fer2013_cnn_small", "--markdown", str(tmp_path / "t.md")]) == 0
    rep = json.loads(out.read_text())
    (yard,) = rep["yardstick"]  # the same model on every domain, one view
    assert yard["fer2013"]["accuracy"] == pytest.approx(rep["rows"][0]["test"]["accuracy"])
    assert yard["wild"]["n"] == 2 and yard["wild"]["no_face"] == 1
    if FERPLUS.is_dir():
        assert yard["ferplus"]["n"] > 3000  # FER+ PrivateTest faces of the seven classes
    if CLIPS.is_dir():
        assert yard["clips"]["face_frames"] > 0 and 0 <= yard["clips"]["negative_share"] <= 1
    assert rep["selection"]["winner"] == "fer2013_cnn_small"
    assert "| model | FER-2013 PrivateTest | FER+ PrivateTest |" in (tmp_path / "t.md").read_text()
    (row,) = rep["rows"]
    assert row["test"]["n"] == 3589 and row["test_split"] == "FER-2013 PrivateTest"
    assert row["wild"]["n"] == 2 and row["wild"]["no_face"] == 1 and row["wild"]["accuracy"] <= 0.5
    assert rep["wild_no_face"] == ["sad/a.jpg"]
    assert "| fer2013_cnn_small | FER-2013 PrivateTest |" in (tmp_path / "t.md").read_text()


def test_selection_rule_takes_the_best_mean_f1_that_loses_no_domain_by_more_than_a_point():
    from fer.commands.compare import select_default

    def row(name, accs, f1s):
        return {"model": name, **{d: {"accuracy": a, "macro_f1": f} for d, a, f in
                                  zip(("fer2013", "ferplus", "wild"), accs, f1s)}}

    rows = [row("today", (0.689, 0.70, 0.443), (0.66, 0.55, 0.35)),
            row("natural", (0.617, 0.83, 0.565), (0.55, 0.69, 0.48)),  # best mean F1, but 7 points off on FER-2013
            row("new", (0.683, 0.82, 0.60), (0.66, 0.66, 0.50))]  # 0.6 of a point off: allowed
    sel = select_default(rows, "today")
    assert sel["winner"] == "new" and "natural" not in sel["eligible"] and "today" in sel["eligible"]
    assert sel["scores"]["new"] > sel["scores"]["today"]
    with pytest.raises(ValueError, match="not among"):
        select_default(rows, "missing")


def test_the_real_clips_can_veto_a_candidate_but_never_choose_one():
    """Unlabelled clips: a candidate that shows more face-frames as a negative emotion than today's
    default (by more than a point) is not eligible, however it scores; fewer never earns a win."""
    from fer.commands.compare import select_default

    def row(name, f1, negative):
        return {"model": name, **{d: {"accuracy": 0.7, "macro_f1": f1} for d in ("fer2013", "ferplus", "wild")},
                "clips": {"negative_share": negative}}

    today, gloomier, calmer = row("today", 0.60, 0.13), row("gloomier", 0.62, 0.19), row("calmer", 0.59, 0.02)
    sel = select_default([today, gloomier, calmer], "today")
    assert sel["winner"] == "today" and "gloomier" not in sel["eligible"] and "calmer" in sel["eligible"]
    assert select_default([today, row("alike", 0.62, 0.14)], "today")["winner"] == "alike"  # within a point
    no_clips = {k: v for k, v in gloomier.items() if k != "clips"}
    assert select_default([today, no_clips], "today")["winner"] == "gloomier"  # nothing to veto with


def test_seven_class_view_leaves_contempt_out():
    from fer.ensemble import seven_class_view
    from fer.labels import FER2013_LABELS, FERPLUS_LABELS

    p = np.zeros((1, 8), np.float32)
    p[0, FERPLUS_LABELS.index("contempt")] = 0.6
    p[0, FERPLUS_LABELS.index("happy")] = 0.3
    p[0, FERPLUS_LABELS.index("neutral")] = 0.1
    v = seven_class_view(p, FERPLUS_LABELS)
    assert v.shape == (1, 7) and v[0, FER2013_LABELS.index("happy")] == pytest.approx(0.75)


def test_yardstick_row_goes_into_a_shipped_models_card_and_the_app_says_it(tmp_path, monkeypatch):
    """`compare --write-cards`: the row lands in the card (round trip) and in the sidebar's words."""
    import shutil

    import fer.weights
    from fer.app.about import model_about
    from fer.commands.compare import write_yardstick
    from fer.weights import ModelCard, card_path, weights_path

    src = weights_path("fer2013_cnn_small")
    for f in (src, card_path(src)):
        shutil.copy(f, tmp_path / f.name)
    monkeypatch.setattr(fer.weights, "WEIGHTS_DIR", tmp_path)
    row = {"model": "fer2013_cnn_small", "fer2013": {"n": 3589, "accuracy": 0.62214, "macro_f1": 0.517},
           "wild": {"n": 1272, "accuracy": 0.4434, "macro_f1": 0.349},
           "clips": {"face_frames": 563, "negative_share": 0.3, "uncertain_share": 0.25}}
    assert write_yardstick(row, "today") and not write_yardstick({**row, "model": "/elsewhere/x.safetensors"}, "")
    card = ModelCard.read(card_path(weights_path("fer2013_cnn_small")))
    y = card.yardstick
    assert y.domains["fer2013"].accuracy == 0.6221 and set(y.domains) == {"fer2013", "wild"}
    assert (y.clip_face_frames, y.clips_negative_share, y.measured) == (563, 0.3, "today")
    assert ModelCard.from_dict(card.to_dict()) == card
    about = model_about("fer2013_cnn_small")
    assert "On natural photos (news photos and film stills, faces found by the detector) about 44 times in 100" \
        in about.accuracy_line()
    assert any("natural photos 44.3%" in d and "30% of face-frames" in d for d in about.details)
