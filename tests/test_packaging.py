"""The package as users get it: the wheel, installed into a fresh virtual environment without
torch, runs `fer analyze` on a real photo and `python -m fer video` on a real clip.

The runtime's dependency wheels are kept in `.whl/` (git-ignored) so that reruns install
offline; the first run fetches them with pip (PyPI or pip's cache) and skips with a reason if
it cannot. Torch is not a runtime dependency, so it is never fetched; a test checks that too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from PIL import Image

from fer.data.locations import dataset_dir

ROOT = Path(__file__).resolve().parents[1]
WHEELHOUSE = ROOT / ".whl"
CLIP = dataset_dir("clips") / "fer_test_clip.mp4"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
TRAINING_ONLY = ("torch", "torchvision", "facenet-pytorch", "safetensors", "scikit-learn", "onnx", "timm")


def run(cmd, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=kw.pop("timeout", 600),
                          **kw)


def requirements(lines) -> dict[str, str]:
    """name -> specifier of requirement lines (comments, blanks and -r includes left out)."""
    out = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            r = Requirement(line)
            out[canonicalize_name(r.name)] = str(r.specifier)
    return out


def source_packages() -> set[str]:
    return {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "fer").rglob("__init__.py")}


# ---------------------------------------------------------------------------------------------
# What the project declares (cheap: no build)

def test_requirements_txt_is_the_runtime_plus_the_app_extra():
    # Streamlit Cloud reads requirements.txt, pip reads pyproject.toml: the two must not drift.
    declared = requirements(PYPROJECT["project"]["dependencies"] + PYPROJECT["project"]["optional-dependencies"]["app"])
    assert requirements((ROOT / "requirements.txt").read_text().splitlines()) == declared
    assert not set(declared) & {canonicalize_name(n) for n in TRAINING_ONLY}


def test_dev_requirements_hold_every_extra_but_the_app():
    extras = PYPROJECT["project"]["optional-dependencies"]
    wanted = requirements(r for name in ("train", "api", "ray", "dev") for r in extras[name] if not r.startswith("fer-toolkit"))
    dev = requirements((ROOT / "requirements-dev.txt").read_text().splitlines())
    assert "-r requirements.txt" in (ROOT / "requirements-dev.txt").read_text()
    assert {k: dev.get(k) for k in wanted} == wanted


def test_every_package_under_fer_is_packaged():
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    assert listed - {"fer._weights"} == source_packages()


# ---------------------------------------------------------------------------------------------
# The wheel, installed without torch

@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from a copy of the sources (the build leaves nothing in the checkout)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("fer", "weights"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    dist = tmp_path_factory.mktemp("dist")
    r = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", dist, src])
    assert r.returncode == 0, r.stdout + r.stderr
    (whl,) = dist.glob("fer_toolkit-*.whl")
    return whl


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment with only the wheel and its runtime dependencies."""
    env_dir = tmp_path_factory.mktemp("venv") / "rt"
    r = run([sys.executable, "-m", "venv", env_dir])
    assert r.returncode == 0, r.stderr
    py = env_dir / "bin" / "python"
    offline = [py, "-m", "pip", "install", "-q", "--no-index", "--find-links", WHEELHOUSE, wheel]
    r = run(offline)
    if r.returncode != 0:  # first run: fetch the runtime's wheels (never torch: it is not among them)
        fetch = run([sys.executable, "-m", "pip", "download", "-q", "-d", WHEELHOUSE, wheel], timeout=900)
        if fetch.returncode != 0:
            pytest.skip(f"the runtime's dependencies could not be fetched into {WHEELHOUSE}: "
                        f"{fetch.stderr.strip()[-300:]}")
        r = run(offline)
    assert r.returncode == 0, r.stdout + r.stderr
    return env_dir


def clean_env(venv_dir: Path) -> dict[str, str]:
    """The installed package only: no PYTHONPATH into the checkout, the venv's scripts first."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = f"{venv_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_wheel_ships_the_runtime_weights(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    cards = [n for n in names if n.startswith("fer/_weights/") and n.endswith(".json")]
    assert {Path(n).stem for n in cards} >= {"joint_resnet_m", "ferplus_resnet_m", "fer2013_cnn_small"}
    for card in cards:  # each classifier's ONNX graph (and its external data, if any) beside its card
        meta = json.loads(zipfile.ZipFile(wheel).read(card))
        onnx = meta.get("onnx", {})
        assert f"fer/_weights/{onnx.get('file', Path(card).stem + '.onnx')}" in names, card
        if onnx.get("weights"):
            assert f"fer/_weights/{onnx['weights']}" in names, card
        if meta.get("int8"):
            assert f"fer/_weights/{meta['int8']['graph']['file']}" in names, card
    for net in ("pnet", "rnet", "onet"):
        assert f"fer/_weights/mtcnn/{net}.onnx" in names
    assert "fer/_weights/MODEL_CARD.md" in names
    assert not [n for n in names if n.endswith((".pt", ".npz"))]  # training checkpoints, the HOG baseline
    packaged = {str(Path(n).parent).replace("/", ".") for n in names if n.endswith("/__init__.py")}
    assert packaged == source_packages()


def test_runtime_install_has_no_torch(venv):
    assert not [w for w in WHEELHOUSE.glob("*.whl") if w.name.lower().startswith(("torch-", "torchvision-"))]
    r = run([venv / "bin" / "python", "-c", "import importlib.util as u; print(u.find_spec('torch'))"])
    assert r.stdout.strip() == "None", r.stdout + r.stderr


def test_fer_script_analyzes_a_photo(venv, tmp_path, astronaut):
    import fer

    photo = tmp_path / "astronaut.jpg"
    Image.fromarray(astronaut).save(photo)
    env = clean_env(venv)
    r = run(["fer", "--version"], cwd=tmp_path, env=env)
    assert r.returncode == 0 and r.stdout.strip() == f"fer {fer.__version__}", r.stdout + r.stderr
    r = run([venv / "bin" / "python", "-c", "import fer; print(fer.__file__)"], cwd=tmp_path, env=env)
    assert r.stdout.strip().startswith(str(venv)), r.stdout + r.stderr  # the installed copy, not the checkout
    out = tmp_path / "faces.json"
    r = run(["fer", "analyze", photo, "--json", out], cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "astronaut.jpg: face 1: happy" in r.stdout
    report = json.loads(out.read_text())
    assert "schema_version" in report
    r = run(["fer", "analyze"], cwd=tmp_path, env=env)
    assert r.returncode == 2 and r.stderr.startswith("usage: fer analyze ")


def test_training_commands_name_the_extra_they_need(venv, tmp_path):
    env = clean_env(venv)
    r = run(["fer", "--help"], cwd=tmp_path, env=env)
    assert r.returncode == 0 and "train" in r.stdout, r.stderr
    for cmd, package in ((["train", "--help"], "torch"), (["evaluate", "photos/"], "scikit-learn")):
        r = run(["fer", *cmd], cwd=tmp_path, env=env)
        assert r.returncode == 2, r.stdout + r.stderr
        assert f"needs {package}" in r.stderr and "pip install 'fer-toolkit[train]'" in r.stderr
        assert "Traceback" not in r.stderr


def test_python_m_fer_analyzes_a_video(venv, tmp_path):
    if not CLIP.is_file():
        pytest.skip(f"real clip not found at {CLIP} (see README: Data)")
    out = tmp_path / "out"
    r = run([venv / "bin" / "python", "-m", "fer", "video", CLIP, "--out", out], cwd=tmp_path, env=clean_env(venv))
    assert r.returncode == 0, r.stdout + r.stderr
    summary = json.loads((out / f"{CLIP.stem}_summary.json").read_text())
    assert "schema_version" in summary  # every JSON the commands write says which shape it has
    assert summary["analysis"]["frames_analysed"] > 0
    assert summary["summary"]["people"], "the clip shows one person"
    assert (out / "summary.csv").is_file() and (out / f"{CLIP.stem}_timeline.png").stat().st_size > 1000
