"""The photo tab: an uploaded image or a camera snapshot -> annotated image, charts, table, JSON."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import streamlit as st

from fer.annotate import EmotionAnnotator, LabelAnnotator
from fer.app.charts import percent, probability_bars
from fer.app.examples import PHOTO_CREDIT, example_photo_path
from fer.app.resources import get_recognizer
from fer.app.sidebar import AppSettings
from fer.app.uploads import refused_upload
from fer.explain import explain_face as explain_face_cam
from fer.explain import overlay
from fer.imageio import ImageError, load_image
from fer.labels import display_name
from fer.recognizer import EmotionRecognizer, largest_faces
from fer.results import FaceEmotion

log = logging.getLogger(__name__)
UPLOAD_KINDS = "photos in JPG, PNG or WebP format"  # what UPLOAD_TYPES are, for the refusal
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
                 target: str | None = None) -> tuple[np.ndarray, str, str]:
    """Grad-CAM (occlusion for a ViT) over the aligned crop the classifier saw: (RGB overlay,
    emotion explained, method name)."""
    crop, cam = explain_face_cam(recognizer.classifier, analysis.source, face.face, target)
    return overlay(crop, cam.heatmap), cam.target, cam.method_name


# Three short columns: the table fits a phone's width without a scroll bar. Face score and box
# coordinates are in the JSON download, not here; all seven probabilities are in each face's chart.
SUMMARY_COLUMNS = {"Face": "small", "Expression": "medium", "Runner-up": "medium"}


def expression_text(face: FaceEmotion, uncertain_below: float) -> str:
    """'Happy 92%', or 'Uncertain (Happy 38%)' below the threshold: the words of the picture's tag."""
    return LabelAnnotator(uncertain_below, show_track_id=False).text(face)


def summary_table(faces: list[FaceEmotion], uncertain_below: float) -> pd.DataFrame:
    """One row per face, numbered as on the picture: its expression as the tag says it, and the
    runner-up, every figure in one format (`percent`)."""
    rows = []
    for f in faces:
        ranked = sorted(f.probs.items(), key=lambda kv: -kv[1])
        runner_up = f"{display_name(ranked[1][0])} {percent(ranked[1][1])}" if len(ranked) > 1 else ""
        rows.append({"Face": f.track_id, "Expression": expression_text(f, uncertain_below), "Runner-up": runner_up})
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def no_face_message(analysis: PhotoAnalysis, settings: AppSettings) -> str:
    """Why nothing was found, in words that point at the cause."""
    h, w = analysis.source.shape[:2]
    if analysis.too_small:
        return (f"This image is only {w}x{h} pixels: too small to find a face in. Use a larger photo "
                f"(faces of at least {settings.min_face_size} px, the sidebar's minimum face size).")
    return ("No face found in this image. Try a larger, frontal, well-lit face, "
            "or lower the detection confidence / minimum face size in the sidebar.")


def to_json(analysis: PhotoAnalysis, settings: AppSettings) -> str:
    return json.dumps({"image": analysis.name, "model": settings.weights,
                       "faces": [f.to_dict() for f in analysis.faces]}, indent=2)


def _use_example() -> None:
    st.session_state["photo_example"] = True


def _use_upload() -> None:
    st.session_state["photo_example"] = False


@dataclass(frozen=True)
class PhotoInput:
    data: bytes
    name: str
    example: bool = False  # the shipped example photo
    refused: str | None = None  # why an upload is not analysed, in full


def _read_input() -> PhotoInput | None:
    upload = st.file_uploader("Upload a photo (JPG, PNG or WebP)", key="photo_upload", on_change=_use_upload)
    c1, c2 = st.columns([1, 1])
    c1.button("Try the example photo", key="photo_example_button", on_click=_use_example, help=PHOTO_CREDIT)
    camera = c2.toggle("Take a photo with the camera", key="use_camera", on_change=_use_upload)
    snapshot = st.camera_input("Camera", key="photo_camera", on_change=_use_upload) if camera else None
    if st.session_state.get("photo_example"):
        return PhotoInput(example_photo_path().read_bytes(), "example photo.jpg", example=True)
    if snapshot is not None:
        return PhotoInput(snapshot.getvalue(), snapshot.name)
    if upload is not None:
        refused = refused_upload(upload.name, UPLOAD_TYPES, UPLOAD_KINDS)
        return PhotoInput(upload.getvalue(), upload.name, refused=refused)
    return None


def render_photo_tab(settings: AppSettings) -> None:
    picked = _read_input()
    if picked is None:
        st.caption("Every face in the photo is analysed; nothing is stored.")
        return
    if picked.refused:
        st.error(picked.refused)
        return
    data, name = picked.data, picked.name
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
    caption = f"Example: {PHOTO_CREDIT}" if picked.example else name
    left.image(analysis.image, caption=caption, width="stretch")
    with right:
        if not analysis.faces:
            st.warning(no_face_message(analysis, settings))
            return
        st.subheader(f"{len(analysis.faces)} face{'s' if len(analysis.faces) != 1 else ''} found")
        if analysis.faces_found > len(analysis.faces):
            st.info(f"{analysis.faces_found} faces were found; the {len(analysis.faces)} largest are "
                    "analysed (sidebar: Most faces per image).")
        st.dataframe(summary_table(analysis.faces, settings.uncertain_below), hide_index=True, width="stretch",
                     column_config={k: st.column_config.Column(k, width=w) for k, w in SUMMARY_COLUMNS.items()})
        st.download_button("Download JSON", to_json(analysis, settings),
                           file_name=name.rsplit(".", 1)[0] + "_emotions.json", mime="application/json")
    show_cam = st.toggle("Show where the model saw each expression (heat maps)",
                         key="show_cam")
    for face in analysis.faces:
        with st.expander(f"Face {face.track_id}: {expression_text(face, settings.uncertain_below)}",
                         expanded=len(analysis.faces) <= 2):
            st.plotly_chart(probability_bars(face.probs, height=260), config={"displayModeBar": False},
                            key=f"photo_chart_{face.track_id}")
            if show_cam:
                _render_cam(get_recognizer(settings), analysis, face)


def _render_cam(recognizer: EmotionRecognizer, analysis: PhotoAnalysis, face: FaceEmotion) -> None:
    labels = list(face.probs)
    target = st.selectbox("Explain", labels, index=labels.index(face.label), format_func=display_name,
                          key=f"cam_target_{face.track_id}")
    picture, explained, method = explain_face(recognizer, analysis, face, target)
    st.image(picture, width=192, caption=f"Evidence for {display_name(explained)} ({method}) on the aligned "
             "face the model saw. It shows where the evidence was, not what the person feels.")
