"""The pipeline benchmark (benchmarks/bench_pipeline.py, also `python -m fer bench`) on a handful
of frames: the report has every field, with values that hang together (speeds are printed,
never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import needs_fer2013

from benchmarks.bench_pipeline import parse_faces, parse_sizes
from benchmarks.pipeline_report import STAGES, RunSpec
from benchmarks.pipeline_scenes import SceneMaker, astronaut_faces
from benchmarks.pipeline_timing import TORCH_SKIPPED, default_specs, run_benchmark, torch_available

ROOT = Path(__file__).resolve().parents[1]
needs_torch = pytest.mark.skipif(not torch_available(), reason="torch is not installed (extra 'train')")


def test_scenes_hold_moving_faces_the_detector_finds(recognizer):
    maker = SceneMaker((320, 240), 4, astronaut_faces())
    a, b = maker.frame(0), maker.frame(5)
    assert a.shape == (240, 320, 3) and a.dtype == np.uint8
    assert np.abs(a.astype(int) - b).mean() > 1  # the faces drift between frames
    assert len(recognizer.detect(a)) == 4
    assert len(recognizer.detect(SceneMaker((640, 480), 1, astronaut_faces()).frame(3))) == 1


def test_parse_sizes_and_faces():
    assert parse_sizes("640x480, 1280X720") == [(640, 480), (1280, 720)]
    with pytest.raises(ValueError, match="WIDTHxHEIGHT"):
        parse_sizes("640by480")
    assert parse_faces("1,4") == [1, 4]
    with pytest.raises(ValueError, match="0 to 16"):
        parse_faces("1,40")


def test_default_specs_change_one_setting_at_a_time():
    specs = default_specs([(640, 480), (1280, 720)], [1, 4], detect_every=3)
    names = [(s.name, s.size, s.faces) for s in specs]
    assert names[:4] == [("default", (640, 480), 1), ("default", (640, 480), 4),
                         ("default", (1280, 720), 1), ("default", (1280, 720), 4)]
    changed = {s.name: s for s in specs[4:]}
    assert changed["detect at 320 px"].max_side == 320 and changed["torch classifier"].backend == "torch"
    assert changed["no re-check of reused boxes"].recheck_score == 0
    assert any(s.detect_every == 1 for s in specs)


@pytest.fixture(scope="module")
def report():
    specs = [RunSpec("default", (240, 180), 1, detect_every=3),
             RunSpec("detect every frame", (240, 180), 2, detect_every=1, max_side=320),
             RunSpec("no re-check", (240, 180), 1, detect_every=3, recheck_score=0)]
    return run_benchmark(specs, frames=6, warmup=1, soak_frames=40, face_source="astronaut",
                         classifier_repeats=3, photo_repeats=2)


def test_report_has_sane_figures(report):
    assert [r.spec.name for r in report.runs] == ["default", "detect every frame", "no re-check"]
    for r in report.runs:
        assert r.frames == 6 and r.backend == "onnx"
        assert 0 < r.p50_ms <= r.p95_ms
        assert r.fps == pytest.approx(1000 / r.mean_ms, rel=1e-6)
        assert set(r.stage_ms) == set(STAGES) and all(v >= 0 for v in r.stage_ms.values())
        assert r.stage_ms["detect"] > 0 and r.stage_ms["classify"] > 0 and r.stage_ms["draw"] > 0
        # the stages are the pipeline's own timings of the same frames, inside the frame's latency
        assert 0.5 * r.mean_ms < sum(r.stage_ms.values()) <= r.mean_ms * (1 + 1e-9)
        assert r.faces_per_frame == pytest.approx(r.spec.faces, abs=0.5)  # the scene's faces were seen
    default, every, no_recheck = report.runs
    assert every.detected_share == 1 and 0 < default.detected_share < 1
    # the re-check (~1 ms on each reused box) ran; turned off, only the schedule check is left
    assert default.stage_ms["recheck"] > 0 and no_recheck.stage_ms["recheck"] < 0.1 * default.stage_ms["recheck"]
    for c in report.classifier:
        assert 0 < c.ms_per_face <= c.ms_per_batch
        assert c.ms_per_face == pytest.approx(c.ms_per_batch / c.batch)
    backends = {"onnx", "torch"} if torch_available() else {"onnx"}
    assert {(c.backend, c.batch) for c in report.classifier} == {(b, n) for b in backends for n in (1, 8)}
    assert [(p.detect_side, p.tta) for p in report.photo] == [(640, "none"), (640, "flip_zoom"), (320, "none")]
    assert all(p.faces == 1 and p.ms > 0 for p in report.photo)
    m = report.memory
    assert 0 < m.rss_start_mb < m.rss_loaded_mb  # loading models costs memory
    assert report.machine.logical_cores >= 1 and report.machine.cpu_model and report.machine.threads >= 1
    assert report.soak.frames == 40 and report.soak.max_active_tracks <= 6


def test_report_renders_markdown_and_json(report):
    md = report.to_markdown()
    assert report.machine.cpu_model in md
    assert "| default | 240x180 | 1 | 3 | 640 | onnx |" in md
    assert "| onnx | 8 |" in md and "| 640x480 | 640 | flip_zoom | 1 |" in md and "Resident memory" in md
    assert "Soak: 40 frames" in md
    back = json.loads(json.dumps(report.to_dict()))
    assert back["runs"][0]["spec"]["size"] == [240, 180]
    assert set(back["runs"][0]["stage_ms"]) == set(STAGES)


@needs_torch
def test_torch_row_runs_where_torch_is_installed():
    r = run_benchmark([RunSpec("torch classifier", (240, 180), 1, backend="torch")], frames=2, warmup=1,
                      face_source="astronaut", classifier_batches=(1,), classifier_repeats=1, photo_repeats=1)
    assert [(x.spec.name, x.backend) for x in r.runs] == [("torch classifier", "torch")]
    assert r.runs[0].faces_per_frame == 1 and not r.notes


def test_torch_rows_are_skipped_with_a_note_without_torch():
    specs = [RunSpec("default", (240, 180), 1), RunSpec("torch classifier", (240, 180), 1, backend="torch")]
    r = run_benchmark(specs, frames=2, warmup=1, face_source="astronaut", classifier_batches=(1,),
                      classifier_repeats=1, photo_repeats=1, torch=False)
    assert [x.spec.name for x in r.runs] == ["default"]
    assert {c.backend for c in r.classifier} == {"onnx"}
    assert r.notes == [TORCH_SKIPPED] and f"Note: {TORCH_SKIPPED}" in r.to_markdown()


def test_fer_bench_runs_the_benchmark_and_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "fer", "bench", "--frames", "3", "--warmup", "1",
                           "--sizes", "200x150", "--faces", "1", "--no-compare", "--source", "astronaut",
                           "--threads", "1", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "| default | 200x150 | 1 | 3 |" in proc.stdout and "Machine:" in proc.stdout
    data = json.loads(out.read_text())
    assert data["runs"][0]["frames"] == 3 and data["machine"]["threads"] == 1  # fer's --threads reached it


@pytest.mark.parametrize("cmd", [["-m", "fer", "bench"], ["benchmarks/bench_pipeline.py"]])
def test_bad_sizes_exit_2_with_a_message(cmd):
    proc = subprocess.run([sys.executable, *cmd, "--sizes", "big"], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, check=False)
    assert proc.returncode == 2 and "WIDTHxHEIGHT" in proc.stderr and "Traceback" not in proc.stderr


def test_fer_bench_without_the_source_repository_says_where_it_is(monkeypatch, tmp_path, capsys):
    from fer import cli
    from fer.commands import bench

    monkeypatch.setattr(bench, "SCRIPT", tmp_path / "benchmarks" / "bench_pipeline.py")
    assert cli.main(["bench", "--frames", "3", "--quick"]) == 2
    err = capsys.readouterr().err
    assert "ships with the source repository" in err and "unrecognized" not in err


@needs_torch
@needs_fer2013
def test_glasses_benchmark_reports_the_default_with_and_without_glasses(tmp_path):
    from benchmarks.glasses_robustness import main

    out = tmp_path / "glasses.json"
    assert main(["--json", str(out)]) == 0
    (row,) = json.loads(out.read_text())["rows"]
    assert row["n"] == 3589 and 0.6 < row["accuracy"] < 0.8
    assert row["accuracy_with_glasses"] < row["accuracy"] and 0.01 < row["changed"] < 0.6
