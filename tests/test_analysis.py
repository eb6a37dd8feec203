"""One video analysis behind every front end: the same real clip, default settings, through the
CLI, the HTTP API (a real server), the app's video tab (AppTest) and the library call itself
gives the same timeline rows and the same per-person figures; the API's summary is the CLI's
document. (`fer batch`, local and Ray, is held to `fer video` byte for byte in test_batch.py.)"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import pandas as pd
import pytest
from clips import ONE_PERSON, needs_clips
from conftest import ROOT

from fer.analysis import SCHEMA_VERSION, AnalysisSettings, ModelCache, analyze

pytestmark = needs_clips
# What may differ between two runs or front ends: time taken, and the limits a front end sets
# (the API bounds frames by its --max-video-s, the app analyses the first 10 minutes).
VARIES = ("elapsed_s", "frames_per_second", "max_frames", "max_duration_s")


def comparable(doc: dict) -> dict:
    doc = json.loads(json.dumps(doc))
    doc["video"] = Path(doc["video"]).name
    doc.pop("files", None)
    for key in VARIES:
        doc["analysis"].pop(key)
    return doc


@pytest.fixture(scope="module")
def library():
    return analyze(ONE_PERSON, AnalysisSettings(), ModelCache().recognizer(AnalysisSettings()))


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli")
    done = subprocess.run([sys.executable, "-m", "fer", "video", str(ONE_PERSON), "--out", str(out)],
                          check=False, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    stem = ONE_PERSON.stem
    return pd.read_csv(out / f"{stem}_timeline.csv"), json.loads((out / f"{stem}_summary.json").read_text())


def test_the_library_and_the_cli_agree(library, cli):
    timeline, doc = cli
    pd.testing.assert_frame_equal(pd.read_csv(io.BytesIO(library.timeline_csv())), timeline)
    assert comparable(library.document()) == comparable(doc)
    assert doc["schema_version"] == SCHEMA_VERSION and doc["summary"]["people"]


def test_the_api_gives_the_cli_document(cli, tmp_path):
    httpx = pytest.importorskip("httpx", reason="httpx is not installed")
    from fer.api import ApiSettings, create_app
    from fer.api.server import LocalServer

    timeline, doc = cli
    with LocalServer(create_app(ApiSettings(jobs_dir=tmp_path))) as url, httpx.Client(base_url=url, timeout=120) as c:
        job = c.post("/v1/videos", files={"file": (ONE_PERSON.name, ONE_PERSON.read_bytes(), "video/mp4")}).json()
        deadline = time.monotonic() + 600
        while (status := c.get(f"/v1/videos/{job['id']}").json())["status"] not in ("done", "failed"):
            assert time.monotonic() < deadline, status
            time.sleep(0.3)
        assert status["status"] == "done", status
        api_doc = c.get(f"/v1/videos/{job['id']}/summary").json()
        api_timeline = pd.read_csv(io.BytesIO(c.get(f"/v1/videos/{job['id']}/timeline.csv").content))
    pd.testing.assert_frame_equal(api_timeline, timeline)
    assert comparable(api_doc) == comparable(doc)


def test_the_app_video_tab_gives_the_cli_figures(cli):
    from streamlit.testing.v1 import AppTest

    timeline, doc = cli
    with mock.patch("streamlit_webrtc.component.get_this_session_info", return_value=None):
        at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=600)
        at.run()
        at.file_uploader(key="video_upload").set_value((ONE_PERSON.name, ONE_PERSON.read_bytes(), "video/mp4"))
        at.run()
        at.button(key="video_go").click().run()
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    report = at.session_state["video_report"]
    pd.testing.assert_frame_equal(pd.read_csv(io.BytesIO(report.timeline_csv())), timeline)
    assert comparable(report.document()) == comparable(doc)
