"""Privacy: the image and video pipelines work with the network blocked and call no one.

Every outgoing connection and every name lookup of a non-local host is refused and recorded;
the whole pipeline, model construction included, must run and leave the record empty."""

from __future__ import annotations

import importlib.util
import ipaddress
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
LOCAL_NAMES = {"localhost", "localhost.localdomain", "", None}


def _is_local(address) -> bool:
    """A loopback host, or a (host, port, ...) tuple with one; AF_UNIX paths are checked by the caller."""
    host = address[0] if isinstance(address, tuple) else address
    if host in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture
def no_network(monkeypatch):
    """Refuse (and record) connections and DNS look-ups that would leave the machine."""
    attempts: list[str] = []
    real_connect, real_connect_ex, real_getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo

    def connect(self, address):
        if self.family != socket.AF_UNIX and not _is_local(address):
            attempts.append(f"connect {address!r}")
            raise ConnectionRefusedError(f"test_offline: outgoing connection to {address!r} blocked")
        return real_connect(self, address)

    def connect_ex(self, address):
        if self.family != socket.AF_UNIX and not _is_local(address):
            attempts.append(f"connect_ex {address!r}")
            return 111  # ECONNREFUSED
        return real_connect_ex(self, address)

    def getaddrinfo(host, *args, **kwargs):
        h = host.decode() if isinstance(host, bytes) else host
        if not _is_local(h):
            attempts.append(f"getaddrinfo {h!r}")
            raise socket.gaierror(f"test_offline: name look-up of {h!r} blocked")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return attempts


def test_the_blocker_blocks(no_network):
    """Guard against a test that cannot fail: an outgoing connection really is refused and recorded."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with pytest.raises(ConnectionRefusedError):
        s.connect(("192.0.2.1", 443))  # TEST-NET-1: never routed
    s.close()
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("example.com", 443)
    assert len(no_network) == 2
    no_network.clear()


def test_image_pipeline_runs_offline(no_network, astronaut, tmp_path):
    from PIL import Image

    from fer import EmotionAnnotator, EmotionPipeline, EmotionRecognizer, PipelineConfig

    path = tmp_path / "astronaut.jpg"
    Image.fromarray(astronaut).save(path)
    before = set(tmp_path.iterdir())
    recognizer = EmotionRecognizer()  # models built from files on disk, nothing fetched
    faces = recognizer.analyze(path)
    assert len(faces) == 1
    assert recognizer.analyze(path.read_bytes())[0].box == faces[0].box
    pipeline = EmotionPipeline(recognizer, PipelineConfig(detect_every=2))
    for i in range(4):
        result = pipeline.process(astronaut.copy(), i / 30)
        EmotionAnnotator().annotate(astronaut.copy(), result.faces)
    assert len(result.faces) == 1
    assert set(tmp_path.iterdir()) == before  # nothing written beside the photo either
    assert no_network == []


@pytest.mark.skipif(importlib.util.find_spec("fer.video") is None, reason="fer.video not present")
def test_video_pipeline_runs_offline(no_network, astronaut, tmp_path):
    import cv2

    from fer import EmotionRecognizer
    from fer.analysis import analyze_video

    path = tmp_path / "tiny.mp4"
    small = cv2.resize(astronaut, (256, 256))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (256, 256))
    for i in range(8):
        writer.write(cv2.cvtColor(np.roll(small, 2 * i, axis=1), cv2.COLOR_RGB2BGR))
    writer.release()
    assert path.stat().st_size > 0
    analysis = analyze_video(path, EmotionRecognizer())
    assert analysis.frames_analysed == 8
    assert len(analysis.timeline) >= 6  # the face is found on (nearly) every frame
    assert no_network == []


def test_cli_works_without_any_network(astronaut, tmp_path):
    """Below Python too: in a network namespace with no interfaces but loopback, the CLI still works."""
    probe = subprocess.run(["unshare", "--net", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("unshare --net is not permitted here")
    from PIL import Image

    path = tmp_path / "astronaut.png"
    Image.fromarray(astronaut).save(path)
    proc = subprocess.run(["unshare", "--net", sys.executable, "-m", "fer", "analyze", str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert f"{path}: face 1:" in proc.stdout


def test_onnx_runtime_telemetry_is_off(tmp_path):
    """The hole (issue 22): ONNX Runtime's usage telemetry ran in every process that loaded a model:
    a device id and an event database under ~/.cache/Microsoft, held open, events queued for
    upload. A fresh process with its own home loads every model and analyses a photo."""
    code = """if True:
        import json, os
        import numpy as np
        from skimage import data
        from fer import EmotionRecognizer
        EmotionRecognizer().analyze(data.astronaut())
        held = []
        for fd in os.listdir("/proc/self/fd"):
            try:
                held.append(os.readlink(f"/proc/self/fd/{fd}"))
            except OSError:
                pass
        print(json.dumps(held))
    """
    env = {**{k: v for k, v in os.environ.items() if k not in ("ORT_DISABLE_TELEMETRY", "XDG_CACHE_HOME")},
           "HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    held = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not [p for p in held if p.startswith(str(tmp_path))], held
    assert not (tmp_path / ".cache" / "Microsoft").exists()
