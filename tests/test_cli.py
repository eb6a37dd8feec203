"""The CLI as users run it: a subprocess, real files, exit codes and messages."""

import ast
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer.data.locations import dataset_dir

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
    assert rep["extra"]["skipped"] == {"unreadable": 1}  # left out; a photo without a face counts as wrong
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


# ---------------------------------------------------------------------------------------------
# How the command line behaves, whatever the command: version, program name, exit codes, Ctrl-C,
# logging and threads (fer/cli.py).

def test_version_and_program_name_as_a_module():
    import fer as fer_pkg

    r = fer("--version")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"python -m fer {fer_pkg.__version__}"
    r = fer("analyze", "--help")
    assert r.returncode == 0 and r.stdout.startswith("usage: python -m fer analyze ")


def test_program_name_follows_the_script_name(tmp_path):
    # What the `fer` console script does: sys.argv[0] is the script's path.
    script = tmp_path / "fer"
    script.write_text("import sys\nfrom fer.cli import main\nsys.exit(main())\n")
    r = subprocess.run([sys.executable, str(script), "video", "--help"], cwd=tmp_path, capture_output=True,
                       text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: fer video ")


@pytest.mark.parametrize("args", [[], ["nope"], ["analyze"], ["--threads", "0", "analyze", "x.jpg"],
                                  ["analyze", "x.jpg", "--no-such-option"], ["video", "--every", "0", "x.mp4"]])
def test_usage_errors_exit_2(args):
    r = fer(*args)
    assert r.returncode == 2, (args, r.stdout, r.stderr)
    assert "usage:" in r.stderr and "Traceback" not in r.stderr


def test_exit_1_when_some_inputs_failed_0_when_none(tmp_path, astronaut):
    good = tmp_path / "astronaut.jpg"
    Image.fromarray(astronaut).save(good)
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not an image")
    r = fer("analyze", good, bad)
    assert r.returncode == 1, r.stderr
    assert "broken.jpg" in r.stderr and "Traceback" not in r.stderr
    assert "astronaut.jpg: face 1: happy" in r.stdout  # the good file was still analysed
    r = fer("analyze", good)
    assert r.returncode == 0, r.stderr


def test_missing_input_is_a_usage_error_before_models_load():
    r = fer("video", "no/such/clip.mp4")
    assert r.returncode == 2
    assert r.stderr.startswith("error:") and "Traceback" not in r.stderr


def test_ctrl_c_ends_cleanly(tmp_path):
    clip = dataset_dir("clips") / "fer_test_clip.mp4"
    if not clip.is_file():
        pytest.skip(f"real clip not found at {clip} (see README: Data)")
    folder = tmp_path / "videos"  # four copies: long enough to be interrupted mid-way on any machine
    folder.mkdir()
    for i in range(4):
        shutil.copyfile(clip, folder / f"clip{i}.mp4")
    # As in a terminal, SIGINT has its default action in the child (a test run started in the
    # background by a shell would otherwise pass it on ignored, and Python would keep ignoring it).
    p = subprocess.Popen([sys.executable, "-m", "fer", "video", str(folder), "--out", str(tmp_path / "out"),
                          "--detect-every", "1"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # Interrupt once frames are being analysed: tqdm's bar on stderr shows the first frame.
    seen = ""
    deadline = time.monotonic() + 300
    while "frame" not in seen and time.monotonic() < deadline and p.poll() is None:
        chunk = p.stderr.read(1)
        seen += chunk
        if not chunk:
            break
    assert p.poll() is None, f"ended before it could be interrupted: {seen}"
    time.sleep(1.0)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    err = seen + err
    assert p.returncode == 130, (p.returncode, err[-2000:])
    assert "interrupted" in err and "Traceback" not in err


def test_verbose_and_threads_options_before_or_after_the_command():
    from fer.cli import build_parser

    parse = build_parser("fer", "analyze").parse_args
    assert parse(["analyze", "x.jpg", "-v"]).verbose == 1
    assert parse(["-vv", "analyze", "x.jpg"]).verbose == 2
    assert parse(["--threads", "3", "analyze", "x.jpg"]).global_threads == 3
    assert parse(["analyze", "x.jpg", "--threads", "2"]).global_threads == 2
    assert not hasattr(parse(["analyze", "x.jpg"]), "global_threads")


def test_threads_option_sizes_the_library_pools(tmp_path):
    from fer import runtime
    from fer.cli import main

    try:
        assert main(["--threads", "3", "video", str(tmp_path / "missing.mp4")]) == 2  # fails before models
        assert runtime.threads() == 3
    finally:
        runtime.set_threads(None)


def test_verbose_turns_on_the_library_log():
    from fer.cli import setup_logging

    lib = logging.getLogger("fer.some_module")
    before = logging.getLogger("fer").level
    try:
        setup_logging(0)
        assert not lib.isEnabledFor(logging.INFO) and lib.isEnabledFor(logging.WARNING)
        setup_logging(1)
        assert lib.isEnabledFor(logging.INFO) and not lib.isEnabledFor(logging.DEBUG)
        setup_logging(2)
        assert lib.isEnabledFor(logging.DEBUG)
    finally:
        logging.getLogger("fer").setLevel(before)


def test_library_reports_through_logging_not_print():
    # Commands print their results (fer/commands/, and a module's own `main()` run as a script);
    # the library itself logs, so its callers (CLI, app, API) decide where messages go.
    offenders = []
    for path in sorted((ROOT / "fer").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("fer/commands/") or rel in ("fer/cli.py", "fer/__main__.py"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        entry = {id(n) for f in ast.walk(tree) if isinstance(f, ast.FunctionDef) and f.name == "main"
                 for n in ast.walk(f)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print"
                    and id(node) not in entry):
                offenders.append(f"{rel}:{node.lineno}")
    assert not offenders, f"print() in library code (use logging): {offenders}"
