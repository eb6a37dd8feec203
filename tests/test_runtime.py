"""The library sizes its own thread pools: one setting, a default from the core count, and no
environment variable needed or obeyed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from fer import runtime


def test_default_threads_from_the_core_count():
    assert runtime.default_threads(1) == 1 and runtime.default_threads(2) == 1
    assert runtime.default_threads(8) == 4 and runtime.default_threads(64) == runtime.MAX_DEFAULT_THREADS


def test_set_threads_validates_and_resets():
    try:
        assert runtime.set_threads(3) == 3 and runtime.threads() == 3
        with pytest.raises(ValueError):
            runtime.set_threads(0)
    finally:
        assert runtime.set_threads(None) == runtime.default_threads()


def test_pools_follow_the_library_whatever_the_environment_says():
    """A user's OMP_NUM_THREADS (or none) does not change what the library uses."""
    code = ("import cv2, fer.runtime as r\n"
            "from fer.recognizer import EmotionRecognizer\n"
            "rec = EmotionRecognizer()\n"
            "sess = rec.classifier.session\n"
            "print(r.threads(), cv2.getNumThreads(), sess.get_session_options().intra_op_num_threads)\n")
    env = {**os.environ, "OMP_NUM_THREADS": "7", "MKL_NUM_THREADS": "7"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    threads, cv_threads, ort_threads = map(int, out.stdout.split())
    assert threads == runtime.default_threads() == cv_threads == ort_threads


def test_training_uses_every_core_unless_told_otherwise(tmp_path):
    """`fer train` sizes torch's pool itself: all cores alone (whatever the pool was before),
    `--threads N` beside other work (two spinning threads on two busy cores wait on each other)."""
    if runtime.available_cores() < 2:
        pytest.skip("one core: every setting gives one thread")
    code = ("import sys, torch\nfrom fer.cli import main\ntorch.set_num_threads(1)\n"
            f"rc = main(sys.argv[1:] + ['train', '--data', {str(tmp_path / 'missing')!r}, '--out', {str(tmp_path)!r}])\n"
            "print(rc, torch.get_num_threads())\n")
    for extra, want in (([], runtime.available_cores()), (["--threads", "1"], 1)):
        out = subprocess.run([sys.executable, "-c", code, *extra], check=False, capture_output=True, text=True,
                             timeout=300)
        assert out.returncode == 0, out.stderr
        assert out.stdout.split()[-2:] == ["2", str(want)]  # usage error (no data), after sizing the pool
