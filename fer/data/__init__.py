"""Loaders for FER-2013 (Kaggle folders or the original CSV), FER+ and class-per-folder crops."""

from fer.data.datasets import (
    FaceArrays,
    load_class_folders,
    load_fer2013_csv,
    load_fer2013_folder,
    load_ferplus,
    ferplus_targets,
)

__all__ = [
    "FaceArrays",
    "load_class_folders",
    "load_fer2013_csv",
    "load_fer2013_folder",
    "load_ferplus",
    "ferplus_targets",
]
