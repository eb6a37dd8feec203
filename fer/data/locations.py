"""Where data sets are looked for: the one place commands, benchmarks and tests ask.

Data is read in place from `shared/data` beside the repository and never copied into it, so
the repository stays small and no licence-bound file is redistributed.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_ROOT = REPO_ROOT.parent / "shared" / "data"
# Sub-folders of DATA_ROOT (see its README.md): FER-2013 (Kaggle layout), FER+, in-the-wild
# photos in class folders, and real video clips.
DATASETS = ("fer2013", "ferplus", "wild", "clips")


def dataset_dir(name: str) -> Path:
    """The folder of one data set under DATA_ROOT (it may be absent: callers check and skip)."""
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; known: {', '.join(DATASETS)}")
    return DATA_ROOT / name
