"""The runtime imports no torch: analysing a photo, a video and serving the app's page each run in
a fresh interpreter of the dev environment (where torch IS installed, so an import would
succeed) and must end with no torch module loaded. Torch is 5 GB on disk and ~300 MB resident;
the runtime install (requirements.txt) does not have it at all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from fer.data.locations import dataset_dir

ROOT = Path(__file__).resolve().parents[1]
CLIP = dataset_dir("clips") / "fer_test_clip.mp4"
HEAVY = ("torch", "torchvision", "facenet_pytorch", "timm")

# Appended to each snippet: which heavy modules got loaded, and a result to check the work was done.
REPORT = """
import json as _json, sys as _sys
print("@@" + _json.dumps({"heavy": sorted(m for m in _sys.modules if m.split(".")[0] in %r),
                          "result": result}))
""" % (HEAVY,)


def run_fresh(code: str, *args) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-c", code + REPORT, *map(str, args)], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("@@")][-1]
    return json.loads(line[2:])


@pytest.fixture
def photo(tmp_path, astronaut) -> Path:
    path = tmp_path / "astronaut.jpg"
    Image.fromarray(astronaut).save(path)
    return path


def test_photo_through_the_api_and_the_cli_imports_no_torch(photo):
    out = run_fresh("""
import sys
from fer import EmotionRecognizer
from fer.cli import main
faces = EmotionRecognizer().analyze(sys.argv[1])
result = {"labels": [f.label for f in faces], "cli": main(["analyze", sys.argv[1]])}
""", photo)
    assert out["result"] == {"labels": ["happy"], "cli": 0}
    assert out["heavy"] == []


def test_video_imports_no_torch(tmp_path):
    if not CLIP.is_file():
        pytest.skip(f"real clip not found at {CLIP} (see README: Data)")
    out = run_fresh("""
import sys
from fer.cli import main
result = main(["video", sys.argv[1], "--out", sys.argv[2], "--max-frames", "30"])
""", CLIP, tmp_path / "out")
    assert out["result"] == 0
    assert (tmp_path / "out" / f"{CLIP.stem}_summary.json").is_file()
    assert out["heavy"] == []


def test_app_page_with_a_photo_imports_no_torch(photo):
    # The webcam component needs a browser session; as in tests/test_app.py its session lookup
    # returns None, which is what streamlit-webrtc does itself outside a live server.
    out = run_fresh("""
import sys
from unittest import mock
from streamlit.testing.v1 import AppTest
with mock.patch("streamlit_webrtc.component.get_this_session_info", return_value=None):
    at = AppTest.from_file("streamlit_app.py", default_timeout=300)
    at.run()
    assert not at.exception, at.exception
    at.file_uploader(key="photo_upload").set_value(("astronaut.jpg", open(sys.argv[1], "rb").read(),
                                                   "image/jpeg"))
    at.run()
    assert not at.exception, at.exception
result = {"errors": [e.value for e in at.error], "tables": len(at.dataframe)}
""", photo)
    assert out["result"]["errors"] == [] and out["result"]["tables"] >= 1
    assert out["heavy"] == []
