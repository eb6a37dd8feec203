"""The CLI as users run it: a subprocess, real files, exit codes and messages."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def fer(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "fer", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=600)


def test_help_lists_commands():
    r = fer("--help")
    assert r.returncode == 0
    for cmd in ("evaluate", "train", "baseline", "calibrate", "explain", "compare"):
        assert cmd in r.stdout


def test_evaluate_class_folders_with_detect(tmp_path, astronaut):
    # Uncropped photos in alias-named class folders; --detect finds and aligns the faces.
    data = tmp_path / "photos"
    for cls, n in (("Happiness", 2), ("SURPRISED", 1)):
        (data / cls).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(np.roll(astronaut, 10 * i, axis=1)).save(data / cls / f"{i}.jpg")
    (data / "Happiness" / "empty.jpg").write_bytes(b"")
    out = tmp_path / "report.json"
    r = fer("evaluate", data, "--detect", "--json", out)
    assert r.returncode == 0, r.stderr
    rep = json.loads(out.read_text())
    assert rep["n"] == 3
    for key in ("accuracy", "macro_f1", "weighted_f1", "per_class", "confusion_matrix"):
        assert key in rep
    assert set(rep["per_class"]) == {"happy", "surprise"}
    assert "angry" in rep["missing_classes"]
    assert rep["extra"]["skipped"] == {"unreadable_or_no_face": 1}
    assert out.with_suffix(".png").stat().st_size > 1000
    assert "accuracy" in r.stdout


def test_evaluate_missing_data_is_a_clear_error(tmp_path):
    r = fer("evaluate", tmp_path / "nowhere")
    assert r.returncode == 2
    assert "error:" in r.stderr and "Traceback" not in r.stderr


def test_explain_writes_png(tmp_path, astronaut):
    img = tmp_path / "a.png"
    Image.fromarray(astronaut).save(img)
    r = fer("explain", img, "--out", tmp_path / "cam.png")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "cam.png").stat().st_size > 1000
