"""fer.schema: the one versioned faces document, as `fer analyze --json` writes it (the API test
checks that the API returns the same document)."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from fer.schema import SCHEMA_VERSION, FacesReport, ImageResult, analyze_image, model_name
from fer.weights import DEFAULT_WEIGHTS

FACE_KEYS = {"box", "score", "landmarks", "label", "confidence", "probs", "track_id"}


def test_document_shape_is_versioned_and_plain_json(recognizer, astronaut):
    ok = analyze_image(recognizer, astronaut, "a.png", "none")
    bad = ImageResult("b.png", error="b.png is not an image")
    doc = FacesReport(model_name(recognizer), tuple(recognizer.labels), "none", (ok, bad)).to_dict()
    assert json.loads(json.dumps(doc, allow_nan=False)) == doc  # strict JSON, no NaN
    assert doc["schema_version"] == SCHEMA_VERSION == 1
    assert doc["model"] == DEFAULT_WEIGHTS and "/" not in doc["model"]  # a name, never a server path
    assert doc["labels"] == list(recognizer.labels) and doc["tta"] == "none"
    good, failed = doc["images"]
    assert set(good) == set(failed) == {"file", "size", "faces", "error", "annotated"}
    assert good["size"] == [512, 512] and good["error"] is None and len(good["faces"]) == 1
    face = good["faces"][0]
    assert set(face) == FACE_KEYS and face["label"] == "happy"
    assert set(face["probs"]) == set(recognizer.labels) and abs(sum(face["probs"].values()) - 1) < 1e-3
    assert failed == {"file": "b.png", "size": None, "faces": [], "error": "b.png is not an image",
                      "annotated": None}


def test_max_faces_keeps_the_largest(astronaut):
    from fer import EmotionRecognizer

    scene = np.full((512, 768, 3), 255, np.uint8)
    scene[:, :512] = astronaut
    scene[:256, 512:] = np.asarray(Image.fromarray(astronaut).resize((256, 256)))  # the same face, half size
    both = analyze_image(EmotionRecognizer(), scene, "s.png", "none").faces
    (one,) = analyze_image(EmotionRecognizer(max_faces=1), scene, "s.png", "none").faces
    assert len(both) == 2 and both[0].box[0] < both[1].box[0]  # left to right
    assert one.box == both[0].box  # the large face is the left one


def test_cli_json_and_exit_codes(tmp_path, astronaut):
    from fer.cli import main

    good = tmp_path / "a.png"
    Image.fromarray(astronaut).save(good)
    (tmp_path / "bad.png").write_bytes(b"not an image")
    out = tmp_path / "out.json"
    assert main(["analyze", str(good), "--tta", "none", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["schema_version"] == 1 and doc["images"][0]["faces"][0]["label"] == "happy"
    assert main(["analyze", str(good), str(tmp_path / "bad.png"), "--tta", "none", "--json", str(out)]) == 1
    images = json.loads(out.read_text())["images"]
    assert images[0]["error"] is None and "not an image" in images[1]["error"]
    assert main(["analyze", str(good), "--max-faces", "0"]) == 2  # usage
