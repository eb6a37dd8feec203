"""Loaders for FER-2013 (Kaggle folders or the original CSV), FER+ and class-per-folder crops,
and where the data lives (`fer.data.locations`).

Imports are lazy so that asking where the data is (`from fer.data import DATA_ROOT`, as the
command-line parser does) does not load NumPy and PIL.
"""

from __future__ import annotations

_EXPORTS = {
    "FaceArrays": "fer.data.datasets",
    "load_class_folders": "fer.data.datasets",
    "load_fer2013_csv": "fer.data.datasets",
    "load_fer2013_folder": "fer.data.datasets",
    "load_ferplus": "fer.data.datasets",
    "ferplus_targets": "fer.data.datasets",
    "DATA_ROOT": "fer.data.locations",
    "dataset_dir": "fer.data.locations",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'fer.data' has no attribute {name!r}")
