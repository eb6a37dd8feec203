"""The app's loaded models, shared by every session and tab.

Loading is keyed on the model name only (what changes the loaded networks) and bounded: slider
values such as the detection confidence or the minimum face size used to key the cache too,
so every new value loaded another detector and classifier and kept them forever. Those settings
now derive a recognizer from the loaded networks (`FaceDetector.with_config`, no loading), and
the derived recognizers are cached too, bounded, so that the same settings give the same object
(the live tab rebuilds its tracker only when the recognizer changes).
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from fer.app.sidebar import AppSettings
from fer.classifier import EmotionClassifier
from fer.detection import DetectorConfig, FaceDetector
from fer.recognizer import EmotionRecognizer

MAX_MODELS = 2  # loaded classifiers kept at once (each holds its weights and ONNX session)
MAX_RECOGNIZERS = 16  # settings combinations kept; each shares the loaded networks


@st.cache_resource(show_spinner="Loading the face detector and the emotion model...", max_entries=MAX_MODELS)
def load_models(weights: str) -> tuple[FaceDetector, EmotionClassifier]:
    """The expensive part: MTCNN and the classifier, warmed up."""
    recognizer = EmotionRecognizer(weights)
    # First calls allocate lazily (seconds on a busy CPU); pay that here, not on the first live
    # frame, where streamlit-webrtc gives up on a callback that runs longer than 10 s.
    recognizer.detect(np.zeros((480, 640, 3), np.uint8))
    size = recognizer.classifier.input_size
    recognizer.classifier.predict_proba(np.zeros((1, size, size), np.uint8))
    return recognizer.detector, recognizer.classifier


@st.cache_resource(show_spinner=False, max_entries=MAX_RECOGNIZERS)
def _recognizer(weights: str, min_score: float, min_face_size: int, max_faces: int) -> EmotionRecognizer:
    detector, classifier = load_models(weights)
    config = DetectorConfig(min_score=min_score, min_face_size=min_face_size, max_side=detector.config.max_side)
    return EmotionRecognizer(detector=detector.with_config(config), classifier=classifier,
                             max_faces=max_faces)


def get_recognizer(settings: AppSettings) -> EmotionRecognizer:
    """The recognizer for these settings; inference is read-only, so threads may share it."""
    return _recognizer(settings.weights, settings.min_score, settings.min_face_size, settings.max_faces)
