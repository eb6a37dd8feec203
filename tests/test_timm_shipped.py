"""Every shipped timm network (issue 25) as users choose it: the app's model selector with the
photo tab's explanation, `fer analyze --weights`, and the HTTP API, with the real weights."""

from __future__ import annotations

import io
import json
from unittest import mock

import httpx
import pytest
from conftest import ROOT
from PIL import Image

from fer.labels import FER2013_LABELS
from fer.weights import card_of, list_weights

TIMM_ARCHITECTURES = {"vit_s4", "vit_s8", "effnet_b0"}  # fer.models.timm_nets
SHIPPED_TIMM = sorted(n for n in list_weights()
                      if card_of(n).architecture in TIMM_ARCHITECTURES)


def png(rgb) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return buf.getvalue()


def test_a_vit_and_an_efficientnet_ship():
    kinds = {card_of(n).architecture.split("_")[0] for n in SHIPPED_TIMM}
    assert kinds == {"vit", "effnet"}, f"timm networks in weights/: {SHIPPED_TIMM}"


@pytest.mark.parametrize("name", SHIPPED_TIMM)
def test_the_app_runs_it_with_an_explanation(name, astronaut):
    from streamlit.testing.v1 import AppTest

    from fer.app.about import TITLES

    with mock.patch("streamlit_webrtc.component.get_this_session_info", return_value=None):
        at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=300)
        at.run()
        choice = at.sidebar.selectbox(key="weights")
        assert TITLES[name] in choice.options  # in words, for visitors
        choice.set_value(name).run()
        at.file_uploader(key="photo_upload").set_value(("a.png", png(astronaut), "image/png")).run()
        assert not at.exception and not at.error, (at.exception, at.error)
        assert len(at.dataframe[0].value) == 1
        at.toggle(key="show_cam").set_value(True).run()
        assert not at.exception, at.exception
        captions = [c for el in at.get("image") for c in el.captions]
        method = "occlusion" if name.startswith("joint_vit") else "Grad-CAM"  # fer.explain
        assert any(f"({method})" in c for c in captions), captions


@pytest.mark.parametrize("name", SHIPPED_TIMM)
def test_analyze_command_runs_it(name, astronaut, tmp_path):
    from fer.cli import main

    (tmp_path / "a.png").write_bytes(png(astronaut))
    assert main(["analyze", str(tmp_path / "a.png"), "--weights", name, "--json", str(tmp_path / "a.json")]) == 0
    doc = json.loads((tmp_path / "a.json").read_text())
    (face,) = doc["images"][0]["faces"]
    assert doc["model"] == name and set(face["probs"]) == set(FER2013_LABELS)


@pytest.mark.parametrize("name", SHIPPED_TIMM)
def test_the_api_runs_it(name, serve, astronaut):
    url, _ = serve()
    with httpx.Client(base_url=url, timeout=120) as client:
        assert name in {m["name"] for m in client.get("/v1/models").json()["models"]}
        r = client.post("/v1/analyze", params={"model": name},
                        files={"file": ("a.png", png(astronaut), "image/png")})
    assert r.status_code == 200, r.text
    (face,) = r.json()["images"][0]["faces"]
    assert r.json()["model"] == name and set(face["probs"]) == set(FER2013_LABELS)
