"""End to end through the public API with the real detector and the shipped weights."""

import io

import numpy as np
import pytest
from PIL import Image

import fer
from fer.imageio import ImageError


def test_smiling_astronaut_is_happy(recognizer, astronaut):
    faces = recognizer.analyze(astronaut)
    assert len(faces) == 1
    f = faces[0]
    assert f.label == "happy", f.probs
    assert f.probs["happy"] > 0.5
    assert set(f.probs) == set(fer.FER2013_LABELS)
    assert sum(f.probs.values()) == pytest.approx(1.0, abs=1e-5)


def test_same_answer_from_path_pil_bytes_and_grey(recognizer, astronaut, tmp_path):
    path = tmp_path / "a.jpg"
    Image.fromarray(astronaut).save(path, quality=95)
    buf = io.BytesIO()
    Image.fromarray(astronaut).save(buf, format="PNG")
    results = [recognizer.analyze(src) for src in (str(path), Image.fromarray(astronaut), buf.getvalue())]
    for r in results:
        assert len(r) == 1 and r[0].label == results[0][0].label
    grey = np.asarray(Image.fromarray(astronaut).convert("L"))
    assert len(recognizer.analyze(grey)) == 1


def test_no_face_returns_empty_list(recognizer):
    assert recognizer.analyze(np.full((200, 300, 3), 200, np.uint8)) == []


def test_unusable_input_raises_image_error(recognizer, tmp_path):
    (tmp_path / "x.jpg").write_text("hello")
    with pytest.raises(ImageError):
        recognizer.analyze(tmp_path / "x.jpg")
    with pytest.raises(ImageError):
        recognizer.analyze(np.zeros((0, 10, 3), np.uint8))


def test_to_dict_is_json_ready(recognizer, astronaut):
    import json

    d = recognizer.analyze(astronaut)[0].to_dict()
    json.dumps(d)
    assert d["label"] in fer.FER2013_LABELS and len(d["box"]) == 4 and len(d["landmarks"]) == 5
