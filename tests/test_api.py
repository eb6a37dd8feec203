"""The HTTP API through a real uvicorn server on 127.0.0.1, driven with httpx as a client would:
real MTCNN, real weights, real photos and clips; every error status; auth; expiry; load."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import DATA

pytest.importorskip("fastapi", reason="the api extra (fastapi, uvicorn, python-multipart) is not installed")
httpx = pytest.importorskip("httpx", reason="httpx is not installed")

from fer.api import ApiSettings
from fer.weights import DEFAULT_WEIGHTS

CLIP = DATA / "clips" / "fer_test_clip.mp4"
needs_clip = pytest.mark.skipif(not CLIP.is_file(), reason=f"real clip not found at {CLIP} (see README: Data)")
MB = 1024 * 1024


def png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return buf.getvalue()


def photo_640x480(astronaut: np.ndarray) -> np.ndarray:
    """One real face in a 640x480 frame (the astronaut photo, cropped to 4:3 and scaled)."""
    return np.asarray(Image.fromarray(astronaut[64:448]).resize((640, 480)))


@pytest.fixture(scope="module")
def api(serve):
    url, settings = serve(max_image_bytes=2 * MB, max_pixels=4_000_000, max_video_s=60)
    with httpx.Client(base_url=url, timeout=120) as client:
        client.settings = settings
        yield client


def assert_error(r, status: int, words: str = ""):
    assert r.status_code == status, r.text
    body = r.json()["error"]
    assert body["status"] == status and body["message"]
    assert words.lower() in body["message"].lower(), body["message"]
    assert "Traceback" not in r.text


def wait_done(client, job_id: str, timeout_s: float = 600) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.get(f"/v1/videos/{job_id}").json()
        assert 0 <= job["progress"] <= 1
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} did not finish in {timeout_s} s")


# ------------------------------------------------------------------------------ service routes


def test_health_docs_and_models(api):
    assert api.get("/v1/health").json()["status"] == "ok"
    assert "swagger" in api.get("/docs").text.lower()
    paths = api.get("/openapi.json").json()["paths"]
    assert {"/v1/analyze", "/v1/videos", "/v1/videos/{job_id}/timeline.csv"} <= set(paths)
    from fer.weights import ModelCard, card_path, list_weights, weights_path

    listed = {m["name"]: m for m in api.get("/v1/models").json()["models"]}
    assert set(listed) == set(list_weights()) and DEFAULT_WEIGHTS in listed
    for name, m in listed.items():
        card = ModelCard.read(card_path(weights_path(name)))
        assert m["classes"] == list(card.labels)
        assert m["test_accuracy"] == card.metric("PrivateTest").accuracy
    assert [n for n, m in listed.items() if m["default"]] == [DEFAULT_WEIGHTS]
    assert 0.6 < listed[DEFAULT_WEIGHTS]["test_accuracy"] < 0.8


# ------------------------------------------------------------------------------ images


def test_analyze_gives_the_same_json_as_the_cli(api, astronaut, tmp_path):
    from fer.cli import main

    path = tmp_path / "astronaut.png"
    path.write_bytes(png(astronaut))
    form = api.post("/v1/analyze", files={"file": ("astronaut.png", path.read_bytes(), "image/png")})
    raw = api.post("/v1/analyze", content=path.read_bytes(), params={"filename": "astronaut.png"},
                   headers={"content-type": "application/octet-stream"})
    assert form.status_code == raw.status_code == 200, form.text
    doc = form.json()
    assert doc["schema_version"] == 1 and doc["model"] == DEFAULT_WEIGHTS and doc["tta"] == "flip_zoom"
    (image,) = doc["images"]
    assert image["file"] == "astronaut.png" and image["size"] == [512, 512] and image["error"] is None
    (face,) = image["faces"]
    assert face["label"] == "happy" and face["confidence"] > 0.5
    assert raw.json() == doc
    # The CLI writes the same document for the same file and options.
    assert main(["analyze", str(path), "--json", str(tmp_path / "cli.json")]) == 0
    cli = json.loads((tmp_path / "cli.json").read_text())
    cli["images"][0]["file"] = "astronaut.png"
    assert cli == doc


def test_analyze_options_change_the_answer(api, astronaut):
    two = np.full((512, 768, 3), 255, np.uint8)  # a large face and the same face at half size
    two[:, :512] = astronaut
    two[:256, 512:] = np.asarray(Image.fromarray(astronaut).resize((256, 256)))
    body = png(two)
    faces = lambda r: r.json()["images"][0]["faces"]
    both = api.post("/v1/analyze", content=body, params={"tta": "none"})
    assert len(faces(both)) == 2, both.text
    one = api.post("/v1/analyze", content=body, params={"tta": "none", "max_faces": 1})
    (largest,) = faces(one)
    assert largest["box"] == max(faces(both), key=lambda f: (f["box"][2] - f["box"][0]))["box"]
    assert faces(api.post("/v1/analyze", content=body, params={"tta": "none", "min_face_size": 400})) == []
    zoom = api.post("/v1/analyze", content=body, params={"tta": "flip_zoom"})
    assert zoom.json()["tta"] == "flip_zoom" and faces(zoom)[0]["probs"] != faces(both)[0]["probs"]


def test_bad_image_inputs_get_clear_statuses(api, astronaut):
    cases = [
        (dict(content=b"this is not an image"), 415, "not an image"),
        (dict(content=b""), 400, "no image"),
        (dict(files={"other": (None, "x")}), 400, "file"),
        (dict(content=b"\0" * (3 * MB)), 413, "limit"),
        (dict(content=png(np.zeros((2000, 2500, 3), np.uint8))), 413, "limit"),  # 5 MP > 4 MP, small file
        (dict(content=png(astronaut), params={"tta": "sharpen"}), 400, "tta"),
        (dict(content=png(astronaut), params={"min_face_size": 3}), 400, "min_face_size"),
        (dict(content=png(astronaut), params={"model": "no_such_model"}), 400, "unknown model"),
        (dict(content=png(astronaut)[:2000]), 400, ""),  # truncated PNG: corrupt, not unsupported
    ]
    for kwargs, status, words in cases:
        assert_error(api.post("/v1/analyze", **kwargs), status, words)
    assert_error(api.get("/v1/nowhere"), 404)
    assert_error(api.put("/v1/analyze"), 405)


def test_image_requests_beyond_the_queue_get_429(serve, astronaut):
    url, _ = serve(max_concurrent=1, max_waiting=0)
    body = png(np.tile(photo_640x480(astronaut), (2, 2, 1)))  # 1280x960: each analysis takes a while

    async def burst():
        async with httpx.AsyncClient(base_url=url, timeout=120) as client:
            return await asyncio.gather(*(client.post("/v1/analyze", content=body) for _ in range(6)))

    responses = asyncio.run(burst())
    codes = sorted(r.status_code for r in responses)
    assert set(codes) == {200, 429}, codes
    refused = next(r for r in responses if r.status_code == 429)
    assert_error(refused, 429, "retry")
    assert int(refused.headers["retry-after"]) >= 1


def test_300_requests_at_concurrency_8_without_an_error(api, astronaut):
    body = png(photo_640x480(astronaut))

    async def load():
        gate = asyncio.Semaphore(8)
        async with httpx.AsyncClient(base_url=str(api.base_url), timeout=300,
                                     limits=httpx.Limits(max_connections=8)) as client:
            async def one(i):
                async with gate:
                    return await client.post("/v1/analyze", content=body, params={"filename": f"{i}.png"})
            return await asyncio.gather(*(one(i) for i in range(300)))

    responses = asyncio.run(load())
    codes = [r.status_code for r in responses]
    assert codes.count(200) == 300, {c: codes.count(c) for c in set(codes)}
    labels = {r.json()["images"][0]["faces"][0]["label"] for r in responses}
    assert labels == {"happy"}


# ------------------------------------------------------------------------------ video jobs


@needs_clip
def test_video_job_runs_to_completion_and_delete_removes_it(api):
    r = api.post("/v1/videos", files={"file": ("clip.mp4", CLIP.read_bytes(), "video/mp4")})
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["status"] in ("queued", "running") and job["video"] == "clip.mp4"
    folder = api.settings.jobs_dir / job["id"]
    assert folder.is_dir()
    assert_error(api.get(job["links"]["summary"]), 409, "results exist once")  # not done yet
    done = wait_done(api, job["id"])
    assert done["status"] == "done" and done["progress"] == 1.0, done
    summary = api.get(job["links"]["summary"]).json()
    assert summary["schema_version"] == 1 and summary["video"] == "clip.mp4"
    people = summary["summary"]["people"]
    assert len(people) >= 1 and people[0]["seconds_on_screen"] > 2  # one person, 4.6 s clip
    timeline = api.get(job["links"]["timeline"])
    assert timeline.headers["content-type"].startswith("text/csv")
    import pandas as pd

    df = pd.read_csv(io.StringIO(timeline.text))
    assert df["frame"].nunique() == summary["analysis"]["frames_analysed"] > 100
    assert not list(folder.glob("input*"))  # the upload is deleted once analysed
    assert api.delete(f"/v1/videos/{job['id']}").status_code == 204
    assert not folder.exists()
    for path in (f"/v1/videos/{job['id']}", job["links"]["summary"], job["links"]["timeline"]):
        assert_error(api.get(path), 404, "no video job")
    assert_error(api.delete(f"/v1/videos/{job['id']}"), 404)


def test_bad_video_inputs_get_clear_statuses(api, tmp_path):
    jobs_before = set(api.settings.jobs_dir.iterdir())
    assert_error(api.post("/v1/videos", content=b"not a video at all", params={"filename": "a.mp4"}), 415,
                 "unsupported video")
    assert_error(api.post("/v1/videos", content=b""), 400, "no video")
    assert_error(api.post("/v1/videos", content=b"x", params={"detect_every": 0}), 400, "detect_every")
    assert_error(api.get("/v1/videos/0123456789abcdef0123456789abcdef"), 404, "no video job")
    assert_error(api.get("/v1/videos/..%2F..%2Fetc"), 404)
    assert set(api.settings.jobs_dir.iterdir()) == jobs_before  # refused uploads leave nothing behind


@needs_clip
def test_video_limits_duration_size_and_queue(serve):
    url, settings = serve(max_video_s=2, max_video_jobs=1, max_video_bytes=2 * MB)
    with httpx.Client(base_url=url, timeout=120) as client:
        assert_error(client.post("/v1/videos", content=CLIP.read_bytes()), 413, "limit is 2 s")
        assert_error(client.post("/v1/videos", content=b"\0" * (3 * MB)), 413, "limit")
    url, settings = serve(max_video_jobs=1)
    with httpx.Client(base_url=url, timeout=120) as client:
        first = client.post("/v1/videos", content=CLIP.read_bytes(), params={"filename": "a.mp4"})
        assert first.status_code == 202, first.text
        second = client.post("/v1/videos", content=CLIP.read_bytes())
        assert_error(second, 429, "retry")
        assert int(second.headers["retry-after"]) > 0
        assert client.delete(f"/v1/videos/{first.json()['id']}").status_code == 204  # stops the analysis
        deadline = time.monotonic() + 60  # its slot comes back once the worker notices
        while time.monotonic() < deadline:
            third = client.post("/v1/videos", content=b"not a video")
            if third.status_code != 429:
                break
            time.sleep(0.2)
        assert_error(third, 415)
    assert list(settings.jobs_dir.iterdir()) == []


@needs_clip
def test_jobs_and_their_files_expire(serve):
    url, settings = serve(job_ttl_s=1.0)
    with httpx.Client(base_url=url, timeout=120) as client:
        job = client.post("/v1/videos", content=CLIP.read_bytes(), params={"filename": "a.mp4"}).json()
        assert wait_done(client, job["id"])["status"] == "done"
        folder = settings.jobs_dir / job["id"]
        deadline = time.monotonic() + 10
        while folder.exists() and time.monotonic() < deadline:  # the sweep, with no request
            time.sleep(0.1)
        assert not folder.exists()
        assert_error(client.get(f"/v1/videos/{job['id']}"), 404)


# ------------------------------------------------------------------------------ auth


def test_api_keys_guard_every_route_but_health(serve, astronaut, caplog):
    url, _ = serve(api_keys=("k-first", "k-second-0123456789"))
    caplog.set_level(logging.DEBUG)
    with httpx.Client(base_url=url, timeout=120) as client:
        assert client.get("/v1/health").status_code == 200
        for method, path in (("GET", "/v1/models"), ("POST", "/v1/analyze"), ("POST", "/v1/videos"),
                             ("GET", "/v1/videos/0123456789abcdef0123456789abcdef")):
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic k-first"},
                            {"Authorization": "Bearer k-first-but-longer"}):
                r = client.request(method, path, headers=headers, content=b"x")
                assert_error(r, 401, "api key")
                assert r.headers["www-authenticate"] == "Bearer"
        good = {"Authorization": "Bearer k-second-0123456789"}
        assert client.get("/v1/models", headers=good).status_code == 200
        r = client.post("/v1/analyze", headers=good, content=png(astronaut), params={"tta": "none"})
        assert r.status_code == 200 and len(r.json()["images"][0]["faces"]) == 1
    assert "k-second" not in caplog.text and "k-first" not in caplog.text


def test_keys_are_off_unless_configured():
    assert ApiSettings.from_env({}).api_keys == ()
    s = ApiSettings.from_env({"FER_API_KEYS": " a, b ,", "FER_API_JOB_TTL_S": "5", "FER_API_MAX_WAITING": "3"})
    assert s.api_keys == ("a", "b") and s.job_ttl_s == 5.0 and s.max_waiting == 3
    assert ApiSettings.from_env(s.to_env()) == s


def test_job_store_expiry_and_ids(tmp_path):
    from fer.api.jobs import JobStore

    store = JobStore(tmp_path, ttl_s=0.2)
    job = store.create("a.mp4")
    assert store.get(job.id).status == "queued"
    assert store.update(job.id, status="done").expires > job.expires
    time.sleep(0.3)
    assert store.get(job.id) is None and not (tmp_path / job.id).exists()
    assert store.get("../" + job.id) is None and not store.delete("..")
    waiting = store.create("b.mp4")  # unfinished jobs of a live server do not expire ...
    time.sleep(0.3)
    assert store.purge_expired() == 0 and store.get(waiting.id).status == "queued"
    import subprocess
    import sys
    from dataclasses import replace

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    store._write(replace(store.get(waiting.id), owner=int(dead)))  # ... those of a server that died do
    assert store.purge_expired() == 1 and list(Path(tmp_path).iterdir()) == []
    assert store.update(waiting.id, status="running") is None  # deleted jobs stay deleted


def test_serving_a_photo_loads_no_torch():
    """The API runs on the torch-free runtime: a fresh interpreter serves a photo without importing it."""
    import subprocess
    import sys

    code = """if True:
        import sys, io, httpx
        from PIL import Image
        from skimage import data
        from fer.api import ApiSettings, create_app
        from fer.api.server import LocalServer
        buf = io.BytesIO(); Image.fromarray(data.astronaut()).save(buf, "PNG")
        with LocalServer(create_app(ApiSettings())) as url:
            r = httpx.post(url + "/v1/analyze", content=buf.getvalue(), params={"tta": "none"}, timeout=300)
        assert r.status_code == 200 and len(r.json()["images"][0]["faces"]) == 1, r.text
        print("torch" in sys.modules)
    """
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=600,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
