"""Shared fixtures: real weights, real MTCNN, real photos from scikit-image; data-dependent
tests skip with a reason where ../shared/data is absent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fer.data.locations import DATA_ROOT as DATA  # noqa: F401  (the one place for data paths)
from fer.data.locations import dataset_dir

ROOT = Path(__file__).resolve().parents[1]
FER2013 = dataset_dir("fer2013")
FERPLUS = dataset_dir("ferplus")
WILD = dataset_dir("wild")
CLIPS = dataset_dir("clips")

needs_fer2013 = pytest.mark.skipif(not (FER2013 / "test").is_dir(),
                                   reason=f"FER-2013 not found at {FER2013} (see README: Data)")
needs_ferplus = pytest.mark.skipif(not (FERPLUS / "FER2013Test").is_dir(),
                                   reason=f"FER+ not found at {FERPLUS} (see README: Data)")
needs_wild = pytest.mark.skipif(not (WILD / "happy").is_dir(),
                                reason=f"in-the-wild photos not found at {WILD} (see README: Data)")
needs_clips = pytest.mark.skipif(not (CLIPS / "fer_test_clip.mp4").is_file(),
                                 reason=f"real clips not found at {CLIPS} (see README: Data)")


@pytest.fixture(scope="session")
def recognizer():
    from fer import EmotionRecognizer

    return EmotionRecognizer()


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """A real photo with one smiling face (Eileen Collins), shipped by scikit-image."""
    from skimage import data

    return data.astronaut()


@pytest.fixture(scope="module")
def serve(tmp_path_factory):
    """serve(**settings) -> (base URL, settings) of a real API server (uvicorn on 127.0.0.1) over
    one set of loaded models; all stop at the end of the module."""
    pytest.importorskip("fastapi", reason="the api extra (fastapi, uvicorn, python-multipart) is not installed")
    from fer.api import ApiSettings, create_app
    from fer.api.resources import Models
    from fer.api.server import LocalServer

    models, servers = Models(), []

    def start(**kw):
        kw.setdefault("jobs_dir", tmp_path_factory.mktemp("jobs"))
        settings = ApiSettings(**kw)
        server = LocalServer(create_app(settings, models))
        servers.append(server)
        return server.__enter__(), settings

    yield start
    for s in servers:
        s.__exit__(None, None, None)
