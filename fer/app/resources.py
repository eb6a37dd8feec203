"""The app's loaded models, shared by every session and tab, through the one recognizer factory
(`fer.analysis.ModelCache`).

Slider values such as the detection confidence or the minimum face size once keyed the model
cache, so every new value loaded another detector and classifier and kept them forever. Now the
networks load once per model (at most `MAX_MODELS` kept), settings derive recognizers from them
for free, and the derived recognizers are cached too, bounded, so that the same settings give the
same object.
"""

from __future__ import annotations

import streamlit as st

from fer.analysis import AnalysisSettings, ModelCache
from fer.app.sidebar import AppSettings
from fer.detection import DetectorConfig
from fer.recognizer import EmotionRecognizer

MAX_MODELS = 2  # loaded classifiers kept at once (each holds its weights and ONNX session)
MAX_RECOGNIZERS = 16  # settings combinations kept; each shares the loaded networks


@st.cache_resource(show_spinner=False)
def model_cache() -> ModelCache:
    return ModelCache(max_models=MAX_MODELS)


@st.cache_resource(show_spinner="Loading the face detector and the emotion model...", max_entries=MAX_RECOGNIZERS)
def _recognizer(settings: AnalysisSettings) -> EmotionRecognizer:
    return model_cache().recognizer(settings)


def get_recognizer(settings: AppSettings) -> EmotionRecognizer:
    """The photo tab's recognizer for the sidebar's settings (detection at 640 px, for photos)."""
    detector = DetectorConfig(min_score=settings.min_score, min_face_size=settings.min_face_size)
    return _recognizer(AnalysisSettings(model=settings.weights, detector=detector, max_faces=settings.max_faces))


def video_recognizer(settings: AnalysisSettings) -> EmotionRecognizer:
    """The video tab's recognizer: the same analysis settings as `fer video`."""
    return _recognizer(settings)
