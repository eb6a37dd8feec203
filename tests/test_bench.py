"""The benchmark itself, on a handful of frames: the report has every field, with sane values
(speeds are printed by `python -m fer bench`, never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fer.bench import STAGES, RunSpec, SceneMaker, astronaut_faces, default_specs, parse_sizes, run_benchmark

ROOT = Path(__file__).resolve().parents[1]


def test_scenes_hold_moving_faces_the_detector_finds(recognizer):
    maker = SceneMaker((320, 240), 4, astronaut_faces())
    a, b = maker.frame(0), maker.frame(5)
    assert a.shape == (240, 320, 3) and a.dtype == np.uint8
    assert np.abs(a.astype(int) - b).mean() > 1  # the faces drift between frames
    assert len(recognizer.detect(a)) == 4
    assert len(recognizer.detect(SceneMaker((640, 480), 1, astronaut_faces()).frame(3))) == 1


def test_parse_sizes():
    assert parse_sizes("640x480, 1280X720") == [(640, 480), (1280, 720)]
    with pytest.raises(ValueError, match="WIDTHxHEIGHT"):
        parse_sizes("640by480")


def test_default_specs_change_one_setting_at_a_time():
    specs = default_specs([(640, 480), (1280, 720)], [1, 4], detect_every=3)
    names = [(s.name, s.size, s.faces) for s in specs]
    assert names[:4] == [("default", (640, 480), 1), ("default", (640, 480), 4),
                         ("default", (1280, 720), 1), ("default", (1280, 720), 4)]
    changed = {s.name: s for s in specs[4:]}
    assert changed["detect at 320 px"].max_side == 320 and changed["torch classifier"].backend == "torch"
    assert any(s.detect_every == 1 for s in specs)


@pytest.fixture(scope="module")
def report():
    specs = [RunSpec("default", (240, 180), 1, detect_every=3),
             RunSpec("detect every frame", (240, 180), 2, detect_every=1, max_side=320, backend="torch")]
    return run_benchmark(specs, frames=6, warmup=1, soak_frames=40, face_source="astronaut",
                         classifier_repeats=3)


def test_report_has_sane_figures(report):
    assert [r.spec.name for r in report.runs] == ["default", "detect every frame"]
    for r in report.runs:
        assert r.frames == 6
        assert 0 < r.p50_ms <= r.p95_ms
        assert r.fps == pytest.approx(1000 / r.mean_ms, rel=1e-6)
        assert set(r.stage_ms) == set(STAGES) and all(v >= 0 for v in r.stage_ms.values())
        assert r.stage_ms["detect"] > 0 and r.stage_ms["classify"] > 0
        assert r.faces_per_frame == pytest.approx(r.spec.faces, abs=0.5)  # the scene's faces were seen
    assert report.runs[0].backend == "onnx" and report.runs[1].backend == "torch"
    assert {(c.backend, c.batch) for c in report.classifier} == {("onnx", 1), ("onnx", 8), ("torch", 1), ("torch", 8)}
    for c in report.classifier:
        assert 0 < c.ms_per_face <= c.ms_per_batch
        assert c.ms_per_face == pytest.approx(c.ms_per_batch / c.batch)
    assert [(p.detect_side, p.tta) for p in report.photo] == [(640, "none"), (640, "flip_zoom"), (320, "none")]
    assert all(p.faces == 1 and p.ms > 0 for p in report.photo)
    m = report.memory
    assert 0 < m.rss_start_mb < m.rss_loaded_mb  # loading models costs memory
    assert report.machine.logical_cores >= 1 and report.machine.cpu_model
    assert report.soak.frames == 40 and report.soak.max_active_tracks <= 6


def test_report_renders_markdown_and_json(report):
    md = report.to_markdown()
    assert report.machine.cpu_model in md
    assert "| default | 240x180 | 1 | 3 | 640 | onnx |" in md
    assert "| onnx | 8 |" in md and "| 640x480 | 640 | flip_zoom | 1 |" in md and "Resident memory" in md and "Soak: 40 frames" in md
    back = json.loads(json.dumps(report.to_dict()))
    assert back["runs"][0]["spec"]["size"] == [240, 180]
    assert set(back["runs"][0]["stage_ms"]) == set(STAGES)


def test_cli_prints_table_and_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "fer", "bench", "--frames", "3", "--warmup", "1",
                           "--sizes", "200x150", "--faces", "1", "--no-compare", "--source", "astronaut",
                           "--threads", "1", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "| default | 200x150 | 1 | 3 |" in proc.stdout and "Machine:" in proc.stdout
    data = json.loads(out.read_text())
    assert data["runs"][0]["frames"] == 3 and data["machine"]["torch_threads"] == 1


def test_cli_rejects_bad_sizes():
    proc = subprocess.run([sys.executable, "-m", "fer", "bench", "--sizes", "big"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2 and "WIDTHxHEIGHT" in proc.stderr and "Traceback" not in proc.stderr
