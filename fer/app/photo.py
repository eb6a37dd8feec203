"""The photo tab: an uploaded image or a camera snapshot -> annotated image, charts, table, JSON."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import streamlit as st

from fer.annotate import EmotionAnnotator
from fer.app.charts import probability_bars
from fer.app.resources import get_recognizer
from fer.app.sidebar import AppSettings
from fer.explain import explain_face as explain_face_cam
from fer.explain import overlay
from fer.imageio import ImageError, load_image
from fer.labels import display_name
from fer.recognizer import EmotionRecognizer, largest_faces
from fer.results import FaceEmotion

log = logging.getLogger(__name__)
UPLOAD_TYPES = ["jpg", "jpeg", "png", "webp"]


@dataclass(frozen=True)
class PhotoAnalysis:
    name: str
    image: np.ndarray  # RGB, annotated
    faces: list[FaceEmotion]  # numbered 1..n left to right (track_id), matching the drawing
    source: np.ndarray  # RGB as decoded, for explanations
    faces_found: int = 0  # before the `max_faces` cap: more than len(faces) when some were left out
    too_small: bool = False  # the image is too small for any face to be found in it


def analyze_photo(recognizer: EmotionRecognizer, data: bytes, name: str,
                  settings: AppSettings) -> PhotoAnalysis:
    """Decode, analyse and draw; raises `ImageError` for anything that is not a usable image."""
    rgb = load_image(data, name=name)
    found = recognizer.detector.detect(rgb)
    # A photo is analysed once: the most accurate test-time augmentation is worth its ~5 ms a face.
    faces = recognizer.classify(rgb, largest_faces(found, recognizer.max_faces), tta="flip_zoom")
    faces = [replace(f, track_id=i) for i, f in enumerate(sorted(faces, key=lambda f: f.box[0]), 1)]
    scene = rgb.copy()
    EmotionAnnotator(uncertain_below=settings.uncertain_below, show_landmarks=settings.show_landmarks).annotate(
        scene, faces)
    return PhotoAnalysis(name, scene, faces, rgb, len(found), recognizer.too_small(rgb))


def explain_face(recognizer: EmotionRecognizer, analysis: PhotoAnalysis, face: FaceEmotion,
                 target: str | None = None) -> tuple[np.ndarray, str]:
    """Grad-CAM over the aligned crop the classifier saw: (RGB overlay, emotion explained)."""
    crop, cam = explain_face_cam(recognizer.classifier, analysis.source, face.face, target)
    return overlay(crop, cam.heatmap), cam.target


# Shown full width with these widths, so that no column hides behind a horizontal scroll.
SUMMARY_COLUMNS = {"Face": "small", "Emotion": "small", "Top emotion": "small", "Probability": "small",
                   "Face score": "small", "Box (x1, y1, x2, y2)": "medium"}


def summary_table(faces: list[FaceEmotion], uncertain_below: float) -> pd.DataFrame:
    """One row per face: what the drawing says, in numbers."""
    return pd.DataFrame([{
        "Face": f.track_id,
        "Emotion": display_name(f.shown_label(uncertain_below)),
        "Top emotion": display_name(f.label),
        "Probability": round(f.confidence, 3),
        "Face score": round(f.score, 3),
        "Box (x1, y1, x2, y2)": ", ".join(f"{v:.0f}" for v in f.box),
    } for f in faces], columns=list(SUMMARY_COLUMNS))


def no_face_message(analysis: PhotoAnalysis, settings: AppSettings) -> str:
    """Why nothing was found, in words that point at the cause."""
    h, w = analysis.source.shape[:2]
    if analysis.too_small:
        return (f"This image is only {w}x{h} pixels: too small to find a face in. Use a larger photo "
                f"(faces of at least {settings.min_face_size} px, the sidebar's minimum face size).")
    return ("No face found in this image. Try a larger, frontal, well-lit face, "
            "or lower the detection confidence / minimum face size in the sidebar.")


def probability_table(face: FaceEmotion) -> pd.DataFrame:
    return pd.DataFrame({"Emotion": [display_name(k) for k in face.probs],
                         "Probability": [round(v, 4) for v in face.probs.values()]})


def to_json(analysis: PhotoAnalysis, settings: AppSettings) -> str:
    return json.dumps({"image": analysis.name, "model": settings.weights,
                       "faces": [f.to_dict() for f in analysis.faces]}, indent=2)


def _read_input() -> tuple[bytes, str] | None:
    upload = st.file_uploader("Upload a photo (JPG, PNG or WebP)", type=UPLOAD_TYPES, key="photo_upload")
    snapshot = None
    if st.toggle("Take a photo with the camera", key="use_camera"):
        snapshot = st.camera_input("Camera", key="photo_camera")
    chosen = snapshot or upload
    return (chosen.getvalue(), chosen.name) if chosen is not None else None


def render_photo_tab(settings: AppSettings) -> None:
    picked = _read_input()
    if picked is None:
        st.caption("Every face in the photo is analysed; nothing is stored.")
        return
    data, name = picked
    try:
        with st.spinner("Finding faces..."):
            analysis = analyze_photo(get_recognizer(settings), data, name, settings)
    except ImageError as e:
        st.error(f"Could not use this photo: {e}")
        return
    except Exception as e:  # OpenCV, ONNX Runtime, memory: a message, never a traceback on the page
        log.exception("photo analysis failed for %s", name)
        st.error(f"Could not analyse {name}: {type(e).__name__}: {e}")
        return
    left, right = st.columns([3, 2])
    left.image(analysis.image, caption=name, width="stretch")
    with right:
        if not analysis.faces:
            st.warning(no_face_message(analysis, settings))
            return
        st.subheader(f"{len(analysis.faces)} face{'s' if len(analysis.faces) != 1 else ''} found")
        if analysis.faces_found > len(analysis.faces):
            st.info(f"{analysis.faces_found} faces were found; the {len(analysis.faces)} largest are "
                    "analysed (sidebar: Most faces per image).")
        st.download_button("Download JSON", to_json(analysis, settings),
                           file_name=name.rsplit(".", 1)[0] + "_emotions.json", mime="application/json")
    st.dataframe(summary_table(analysis.faces, settings.uncertain_below), hide_index=True, width="stretch",
                 column_config={k: st.column_config.Column(k, width=w) for k, w in SUMMARY_COLUMNS.items()})
    show_cam = st.toggle("Show Grad-CAM heat maps (where the evidence for an emotion was)",
                         key="show_cam")
    for face in analysis.faces:
        with st.expander(f"Face {face.track_id}: {display_name(face.label)} {face.confidence:.0%}",
                         expanded=len(analysis.faces) <= 2):
            c1, c2 = st.columns([3, 2])
            c1.plotly_chart(probability_bars(face.probs, height=280), config={"displayModeBar": False},
                            key=f"photo_chart_{face.track_id}")
            c2.dataframe(probability_table(face), hide_index=True)
            if show_cam:
                _render_cam(get_recognizer(settings), analysis, face)


def _render_cam(recognizer: EmotionRecognizer, analysis: PhotoAnalysis, face: FaceEmotion) -> None:
    labels = list(face.probs)
    target = st.selectbox("Explain", labels, index=labels.index(face.label), format_func=display_name,
                          key=f"cam_target_{face.track_id}")
    picture, explained = explain_face(recognizer, analysis, face, target)
    st.image(picture, width=192, caption=f"Grad-CAM for {display_name(explained)} on the aligned "
             "face the model saw. It shows where the evidence was, not what the person feels.")
