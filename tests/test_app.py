"""The Streamlit page through `streamlit.testing.v1.AppTest`: real app script, real MTCNN and
weights. The webcam component cannot run here (it needs a browser session), so its session
lookup is patched to return None, as streamlit-webrtc does itself outside a live server; the
browser test is tests/test_app_e2e.py."""

from __future__ import annotations

import io
import json
import tempfile
from unittest import mock

import numpy as np
import pytest
from conftest import ROOT
from PIL import Image

from fer.app.photo import analyze_photo, explain_face, probability_table, summary_table, to_json
from fer.app.sidebar import AppSettings, model_summary, weight_choices
from fer.labels import FER2013_LABELS
from fer.weights import DEFAULT_WEIGHTS

APP = str(ROOT / "streamlit_app.py")


def encode(rgb: np.ndarray, fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, fmt)
    return buf.getvalue()


@pytest.fixture
def app():
    from streamlit.testing.v1 import AppTest

    with mock.patch("streamlit_webrtc.component.get_this_session_info", return_value=None):
        at = AppTest.from_file(APP, default_timeout=300)
        at.run()
        assert not at.exception, at.exception
        yield at


def upload(at, name: str, data: bytes, mime: str):
    at.file_uploader(key="photo_upload").set_value((name, data, mime))
    at.run()
    assert not at.exception, at.exception
    return at


def test_page_shows_responsible_use_note_and_tabs(app):
    note = " ".join(c.value for c in app.caption)
    assert "probability" in note and "MODEL_CARD.md" in note
    assert [t.label for t in app.tabs] == ["Live webcam", "Photo", "Video file"]
    assert app.sidebar.selectbox(key="weights").value == DEFAULT_WEIGHTS


def test_photo_upload_shows_one_face_with_an_emotion(app, astronaut):
    upload(app, "astronaut.jpg", encode(astronaut, "JPEG"), "image/jpeg")
    assert not app.error
    table = app.dataframe[0].value
    assert len(table) == 1
    assert table["Top emotion"].iloc[0] == "Happy"  # depends on the final (trained) weights
    assert table["Emotion"].iloc[0] in {"Happy", "Uncertain"}
    assert any(s.value == "1 face found" for s in app.subheader)
    assert len(app.get("plotly_chart")) >= 1


def test_webp_and_png_uploads_work(app, astronaut):
    upload(app, "a.webp", encode(astronaut, "WEBP"), "image/webp")
    assert len(app.dataframe[0].value) == 1
    upload(app, "a.png", encode(astronaut, "PNG"), "image/png")
    assert len(app.dataframe[0].value) == 1


def test_corrupt_upload_shows_an_error_and_the_app_keeps_working(app, astronaut):
    upload(app, "broken.jpg", encode(astronaut, "JPEG")[:200], "image/jpeg")
    assert len(app.error) == 1 and "broken.jpg" in app.error[0].value
    upload(app, "notes.png", b"this is not an image", "image/png")
    assert len(app.error) == 1 and "notes.png" in app.error[0].value
    upload(app, "astronaut.jpg", encode(astronaut, "JPEG"), "image/jpeg")
    assert not app.error and len(app.dataframe[0].value) == 1


def test_photo_without_a_face_says_so(app):
    from skimage import data

    upload(app, "coffee.png", encode(data.coffee(), "PNG"), "image/png")
    assert not app.error
    assert any("No face found" in w.value for w in app.warning)
    assert not app.dataframe


def test_sidebar_settings_reach_the_photo_tab(app, astronaut):
    app.sidebar.slider(key="min_face_size").set_value(400)  # the astronaut's face is ~110 px
    app.run()
    upload(app, "astronaut.jpg", encode(astronaut, "JPEG"), "image/jpeg")
    assert any("No face found" in w.value for w in app.warning)


def test_analyze_photo_numbers_faces_and_exports_json(recognizer, astronaut):
    settings = AppSettings(show_landmarks=True)
    result = analyze_photo(recognizer, encode(astronaut, "PNG"), "a.png", settings)
    assert [f.track_id for f in result.faces] == [1]
    assert result.image.shape == astronaut.shape and not np.array_equal(result.image, astronaut)
    exported = json.loads(to_json(result, settings))
    assert exported["image"] == "a.png" and exported["model"] == DEFAULT_WEIGHTS
    assert set(exported["faces"][0]["probs"]) == set(FER2013_LABELS)
    table = summary_table(result.faces, settings.uncertain_below)
    assert list(table["Face"]) == [1]
    probs = probability_table(result.faces[0])
    assert len(probs) == len(FER2013_LABELS) and probs["Probability"].sum() == pytest.approx(1, abs=1e-3)


def test_settings_map_to_the_pipeline():
    cfg = AppSettings(half_life_s=1.5, detect_every=5).pipeline_config()
    assert (cfg.half_life_s, cfg.detect_every, cfg.smoothing) == (1.5, 5, True)
    assert AppSettings(half_life_s=0).pipeline_config().smoothing is False
    assert weight_choices()[0] == DEFAULT_WEIGHTS


def test_model_summary_reads_the_card():
    fer2013, ferplus = model_summary(DEFAULT_WEIGHTS), model_summary("ferplus_resnet_m")
    assert "7 emotions" in fer2013 and "FER-2013 test accuracy" in fer2013
    assert "8 emotions" in ferplus and "FER+ test accuracy" in ferplus


def test_grad_cam_toggle_explains_the_chosen_emotion(app, astronaut):
    upload(app, "astronaut.jpg", encode(astronaut, "JPEG"), "image/jpeg")
    assert len(app.get("image")) == 1  # only the annotated photo until the toggle is on
    app.toggle(key="show_cam").set_value(True).run()
    assert not app.exception, app.exception
    target = app.selectbox(key="cam_target_1")
    assert target.value == "happy"
    captions = [c for el in app.get("image") for c in el.captions]
    assert any("Grad-CAM for Happy" in c for c in captions)
    target.set_value("sad").run()
    captions = [c for el in app.get("image") for c in el.captions]
    assert any("Grad-CAM for Sad" in c for c in captions)


def test_explain_face_changes_with_the_target(recognizer, astronaut):
    result = analyze_photo(recognizer, encode(astronaut, "PNG"), "a.png", AppSettings())
    happy, label = explain_face(recognizer, result, result.faces[0])
    sad, label_sad = explain_face(recognizer, result, result.faces[0], "sad")
    assert (label, label_sad) == ("happy", "sad")
    assert happy.shape == sad.shape == (192, 192, 3) and happy.dtype == np.uint8
    assert np.abs(happy.astype(int) - sad).mean() > 1


def _astronaut_video(astronaut, seconds: float = 2, fps: int = 10) -> bytes:
    import cv2

    face = cv2.resize(astronaut[20:220, 150:330], (90, 100))[..., ::-1]
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/a.mp4"
        out = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), fps, (320, 240))
        for i in range(int(seconds * fps)):
            frame = np.full((240, 320, 3), 128, np.uint8)
            frame[70:170, 20 + 5 * i:110 + 5 * i] = face
            out.write(frame)
        out.release()
        with open(path, "rb") as f:
            return f.read()


def test_video_tab_analyses_an_upload_and_offers_downloads(app, astronaut):
    app.file_uploader(key="video_upload").set_value(("interview.mp4", _astronaut_video(astronaut), "video/mp4"))
    app.run()
    app.button(key="video_go").click().run()
    assert not app.exception and not app.error, (app.exception, app.error)
    assert any(s.value.startswith("20 frames analysed") for s in app.success)
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["People"] == "1" and metrics["No face"] == "0%"
    assert {b.label for b in app.get("download_button")} >= {"Download timeline (CSV)",
                                                               "Download summary (JSON)"}


def test_video_tab_reports_a_broken_upload(app):
    app.file_uploader(key="video_upload").set_value(("broken.mp4", b"\x00\x00\x00\x18ftypmp42" * 20,
                                                     "video/mp4"))
    app.run()
    app.button(key="video_go").click().run()
    assert not app.exception
    assert len(app.error) == 1 and "broken.mp4" in app.error[0].value
