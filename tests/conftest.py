"""Shared fixtures: real weights, real MTCNN, real photos from scikit-image; data-dependent
tests skip with a reason where ../shared/data is absent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
FER2013 = DATA / "fer2013"
FERPLUS = DATA / "ferplus"

needs_fer2013 = pytest.mark.skipif(not (FER2013 / "test").is_dir(),
                                   reason=f"FER-2013 not found at {FER2013} (see README: Data)")
needs_ferplus = pytest.mark.skipif(not (FERPLUS / "FER2013Test").is_dir(),
                                   reason=f"FER+ not found at {FERPLUS} (see README: Data)")


@pytest.fixture(scope="session")
def recognizer():
    from fer import EmotionRecognizer

    return EmotionRecognizer()


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """A real photo with one smiling face (Eileen Collins), shipped by scikit-image."""
    from skimage import data

    return data.astronaut()
