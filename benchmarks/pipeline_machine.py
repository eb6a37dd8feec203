"""What a benchmark ran on: CPU, cores, load, library versions and the thread setting.

A figure without its machine cannot be compared with another, so every benchmark report
starts with this. Versions are read from package metadata, so describing the machine never
imports torch (the runtime does not need it).
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from fer.runtime import cpu_model


@dataclass(frozen=True)
class Machine:
    cpu_model: str
    logical_cores: int
    physical_cores: int | None
    usable_cores: int
    load_avg_1min: float | None  # other work on the machine while we measured
    python: str
    threads: int  # threads per model call: fer.runtime.threads(), the one setting (--threads)
    onnxruntime: str | None
    torch: str | None  # None: not installed (the PyTorch comparison rows are skipped)
    platform: str


def rss_mb() -> float:
    """Resident memory of this process in MiB."""
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def cpu_int_flags() -> list[str]:
    """The CPU's vector and integer-dot-product extensions: int8 speed depends on them most."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags = next((ln.split(":", 1)[1].split() for ln in text.splitlines() if ln.startswith("flags")), [])
    return sorted(f for f in flags if f in {"avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8"})


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def machine_info() -> Machine:
    import psutil

    from fer import runtime

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return Machine(cpu_model(), os.cpu_count() or 1, psutil.cpu_count(logical=False), runtime.available_cores(),
                   load, platform.python_version(), runtime.threads(), package_version("onnxruntime"),
                   package_version("torch"), platform.platform(terse=True))
