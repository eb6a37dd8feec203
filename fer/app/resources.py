"""Heavy objects shared by all sessions of the app, built once per distinct setting."""

from __future__ import annotations

import numpy as np
import streamlit as st

from fer.app.sidebar import AppSettings
from fer.recognizer import EmotionRecognizer


@st.cache_resource(show_spinner="Loading the face detector and the emotion model...")
def _load_recognizer(weights: str, min_score: float, min_face_size: int) -> EmotionRecognizer:
    recognizer = EmotionRecognizer(weights, min_score=min_score, min_face_size=min_face_size)
    # First calls allocate lazily (seconds on a busy CPU); pay that here, not on the first live
    # frame, where streamlit-webrtc gives up on a callback that runs longer than 10 s.
    recognizer.detect(np.zeros((480, 640, 3), np.uint8))
    size = recognizer.classifier.input_size
    recognizer.classifier.predict_proba(np.zeros((1, size, size), np.uint8))
    return recognizer


def get_recognizer(settings: AppSettings) -> EmotionRecognizer:
    """The recognizer for these settings; inference is read-only, so threads may share it."""
    return _load_recognizer(settings.weights, settings.min_score, settings.min_face_size)
