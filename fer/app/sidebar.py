"""The sidebar: every user setting in one typed `AppSettings`, read once per rerun."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from fer.app.about import card_url, model_about, model_title
from fer.labels import UNCERTAIN_BELOW
from fer.pipeline import PipelineConfig
from fer.recognizer import DEFAULT_MAX_FACES
from fer.weights import DEFAULT_WEIGHTS, WEIGHTS_DIR, list_weights

MODEL_CARD = WEIGHTS_DIR / "MODEL_CARD.md"


@dataclass(frozen=True)
class AppSettings:
    """What the tabs need from the sidebar; frozen so it can key caches and be compared."""

    weights: str = DEFAULT_WEIGHTS  # a name from fer.weights.list_weights()
    min_score: float = 0.9  # MTCNN face confidence
    min_face_size: int = 40  # pixels
    half_life_s: float = 0.5  # smoothing of probabilities over time (live and video)
    detect_every: int = 3  # run the face detector on every k-th frame, track in between
    show_landmarks: bool = False
    uncertain_below: float = UNCERTAIN_BELOW  # show 'Uncertain' when the top probability is lower
    max_faces: int = DEFAULT_MAX_FACES  # faces analysed per photo or frame, the largest first

    def pipeline_config(self) -> PipelineConfig:
        return PipelineConfig(detect_every=self.detect_every, half_life_s=self.half_life_s,
                              smoothing=self.half_life_s > 0, uncertain_below=self.uncertain_below)


def weight_choices() -> list[str]:
    """Shipped weights, the default first."""
    names = list_weights()
    return sorted(names, key=lambda n: (n != DEFAULT_WEIGHTS, n)) or [DEFAULT_WEIGHTS]


def model_summary(name: str) -> str:
    """What the model is good at and how often it is right, in a visitor's words."""
    about = model_about(name)
    return f"{about.strength} {about.accuracy_line()}"


def render_model_about(name: str) -> None:
    """The model card for visitors: what it does, how well, its limits; technical facts last."""
    about = model_about(name)
    with st.expander("About this model"):
        st.markdown(
            "It looks at **one face in one frame** and gives the probability of each expression. It "
            "describes the visible expression, not what the person feels, thinks or intends.\n\n"
            f"**How often it is right.** {about.accuracy_line()}"
            + (f" Best at {' and '.join(about.best)}; weakest at {' and '.join(about.weakest)}."
               if about.best and about.weakest else "")
            + "\n\n**Where it goes wrong.** Faces turned away, covered (hands, masks, glare), small, "
            "dark or blurred; subtle, spontaneous expressions get flatter probabilities. Its training "
            "photos come from the web without age, gender or skin-tone labels, so its accuracy for "
            "different groups is unknown.\n\n"
            "**Not for decisions about people.** Do not use it to hire, grade, diagnose or police anyone. "
            "In the EU, recognising emotions at work and in education is prohibited (AI Act Art. 5(1)(f)).")
        st.caption("Technical details: " + " · ".join(about.details))
        url = card_url(st.secrets)
        if url:
            st.link_button("Full model card", url)
        elif MODEL_CARD.is_file():
            st.download_button("Full model card (text)", MODEL_CARD.read_text(encoding="utf-8"),
                               file_name="MODEL_CARD.md", mime="text/markdown", key="model_card_download")


def render_sidebar() -> AppSettings:
    d = AppSettings()
    with st.sidebar:
        st.header("Settings")
        weights = st.selectbox("Model", weight_choices(), key="weights", format_func=model_title)
        st.caption(model_summary(weights))
        render_model_about(weights)
        st.subheader("Face detection")
        min_score = st.slider("Detection confidence", 0.5, 0.99, d.min_score, 0.01, key="min_score",
                              help="Lower finds more faces, and more false ones.")
        min_face_size = st.slider("Minimum face size (px)", 20, 400, d.min_face_size, 10,
                                  key="min_face_size")
        max_faces = st.slider("Most faces per image", 1, 100, d.max_faces, key="max_faces",
                              help="Only the largest faces are analysed; a crowd photo would "
                                   "otherwise cost seconds and hundreds of panels.")
        detect_every = st.slider("Detect faces every k frames", 1, 10, d.detect_every, key="detect_every",
                                 help="Between detections faces are tracked and only classified, "
                                      "which keeps the video live on a slow CPU.")
        st.subheader("Display")
        half_life_s = st.slider("Smoothing half-life (s)", 0.0, 3.0, d.half_life_s, 0.1, key="half_life_s",
                                help="How fast live probabilities follow a change; 0 turns smoothing off.")
        uncertain_below = st.slider("'Uncertain' below", 0.0, 0.9, d.uncertain_below, 0.05,
                                    key="uncertain_below",
                                    help="Faces whose top probability is lower are shown as uncertain.")
        show_landmarks = st.checkbox("Show landmarks", d.show_landmarks, key="show_landmarks")
    return AppSettings(weights=weights, min_score=float(min_score), min_face_size=int(min_face_size),
                       half_life_s=float(half_life_s), detect_every=int(detect_every),
                       show_landmarks=bool(show_landmarks), uncertain_below=float(uncertain_below),
                       max_faces=int(max_faces))
