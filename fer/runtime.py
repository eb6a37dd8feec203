"""How many CPU threads the library's math may use: one setting, owned here, not by the environment.

Thread pools sized for every core spin-wait for cores that other work (WebRTC, Streamlit, a
browser, another analysis) holds; on a 2-core machine that made MTCNN frames take seconds
instead of a tenth. So every pool the library creates (ONNX Runtime sessions, OpenCV, PyTorch
where it is loaded) is sized from `threads()`, whatever OMP_NUM_THREADS says.

Default: half the cores this process may run on, at least 1 and at most 4 (1 on a 2-core
machine). Change it with `set_threads(n)` or the CLI's `--threads N`.
"""

from __future__ import annotations

import os
import sys

MAX_DEFAULT_THREADS = 4
_threads: int | None = None


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, which containers narrow), not the host's."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def default_threads(cores: int | None = None) -> int:
    cores = available_cores() if cores is None else cores
    return max(1, min(MAX_DEFAULT_THREADS, cores // 2))


def threads() -> int:
    """Threads for one model call; set by `set_threads`, else the default for this machine."""
    return _threads if _threads is not None else default_threads()


def training_threads() -> int:
    """Threads for training: the `set_threads` value where one was given (`--threads 1` beside
    other work: two spinning threads on two busy cores wait on each other, 3-100x slower steps),
    else every core this process may use (training alone wants throughput)."""
    return _threads if _threads is not None else available_cores()


def set_threads(n: int | None) -> int:
    """Size every pool the library uses to `n` threads (None: back to the default); returns it."""
    global _threads
    if n is not None and n < 1:
        raise ValueError(f"threads must be at least 1, got {n}")
    _threads = n
    apply_threads()
    return threads()


def apply_threads() -> None:
    """Size the pools of libraries already loaded (OpenCV, PyTorch); never imports torch itself."""
    n = threads()
    try:
        import cv2

        cv2.setNumThreads(n)
    except ImportError:
        pass
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(n)


def onnx_session_options(n: int | None = None):
    """ONNX Runtime options with `n` (default `threads()`) non-spinning threads, quiet logs."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = n or threads()
    opts.inter_op_num_threads = 1
    # Spinning threads wait for cores that a busy machine (WebRTC, Streamlit) never frees.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    opts.log_severity_level = 3
    return opts


def onnx_session(path, n: int | None = None):
    """Every ONNX Runtime session the project opens: CPU, `onnx_session_options(n)`, telemetry off
    (`import fer` sets ORT_DISABLE_TELEMETRY before onnxruntime loads; this covers a process that
    imported onnxruntime first)."""
    import onnxruntime as ort

    ort.disable_telemetry_events()
    return ort.InferenceSession(str(path), onnx_session_options(n), providers=["CPUExecutionProvider"])


def cpu_model() -> str:
    """The CPU's name, for figures that depend on it (speed, training time)."""
    import platform

    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
