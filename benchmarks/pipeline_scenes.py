"""Generated scenes with real faces for the pipeline benchmark: a textured background holding
1..n heads that drift a few pixels per frame, so the tracker and the re-check see motion.

Real faces (FER-2013 test faces where the data is, else the astronaut photo) keep MTCNN and the
classifier doing their real work; the scene is generated so any frame size and face count can
be measured the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fer.data.locations import dataset_dir  # the one place that says where data is

# The astronaut's face with some hair and collar around it, so MTCNN sees a whole head.
ASTRONAUT_FACE = (slice(0, 250), slice(110, 340))


def astronaut_faces() -> list[np.ndarray]:
    """The astronaut's head, and its mirror image so four faces are not all identical."""
    from skimage import data

    head = np.ascontiguousarray(data.astronaut()[ASTRONAUT_FACE])
    return [head, np.ascontiguousarray(head[:, ::-1])]


def fer2013_faces(root: Path | None = None, n: int = 4, detector=None) -> list[np.ndarray]:
    """FER-2013 test faces, upscaled 4x and padded like a head in a photo. With a detector,
    only faces MTCNN finds on their own are kept, so the scene holds as many faces as asked."""
    root = dataset_dir("fer2013") if root is None else root
    classes = ["happy", "surprise", "neutral", "sad", "angry", "fear"]
    files = [sorted((root / "test" / c).glob("*.jpg"))[:6] for c in classes]
    out = []
    for group in zip(*files):  # one of each class in turn
        for path in group:
            grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            if grey is None:
                continue
            big = cv2.resize(grey, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
            pad = big.shape[0] // 3
            big = cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
            rgb = np.repeat(big[..., None], 3, 2)
            if detector is not None and len(detector.detect(rgb)) != 1:
                continue
            out.append(rgb)
            if len(out) == n:
                return out
    return out


def face_patches(source: str = "auto", detector=None) -> tuple[list[np.ndarray], str]:
    """Face images for the scenes and a description: FER-2013 where the data is, else the astronaut."""
    root = dataset_dir("fer2013")
    if source in ("auto", "fer2013") and (root / "test").is_dir():
        faces = fer2013_faces(root, detector=detector)
        if len(faces) >= 1:
            return faces, f"{len(faces)} FER-2013 test faces, upscaled 4x"
    if source == "fer2013":
        raise FileNotFoundError(f"FER-2013 not found at {root}")
    return astronaut_faces(), "skimage.data.astronaut() head (and its mirror image)"


def background(size: tuple[int, int]) -> np.ndarray:
    """A soft two-tone gradient with a little texture: something for MTCNN to reject."""
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = 90 + 60 * (x / w) + 30 * np.sin(y / 37.0)
    rgb = np.stack([base, base * 0.9 + 20, base * 0.8 + 30], -1)
    noise = np.random.default_rng(0).normal(0, 4, rgb.shape)
    return np.clip(rgb + noise, 0, 255).astype(np.uint8)


def paste(scene: np.ndarray, patch: np.ndarray, x: float, y: float) -> None:
    """Copy `patch` with its top-left corner at (x, y), clipped to the scene."""
    h, w = scene.shape[:2]
    x0, y0 = round(x), round(y)
    sx0, sy0 = max(0, -x0), max(0, -y0)
    x1, y1 = min(w, x0 + patch.shape[1]), min(h, y0 + patch.shape[0])
    if x1 <= max(0, x0) or y1 <= max(0, y0):
        return
    scene[max(0, y0):y1, max(0, x0):x1] = patch[sy0:sy0 + y1 - max(0, y0), sx0:sx0 + x1 - max(0, x0)]


def scaled_patches(patches: list[np.ndarray], height: int) -> list[np.ndarray]:
    """The patches resized to `height` pixels tall."""
    out = []
    for p in patches:
        s = height / p.shape[0]
        out.append(cv2.resize(p, None, fx=s, fy=s, interpolation=cv2.INTER_AREA))
    return out


@dataclass
class SceneMaker:
    """Frames of `size` holding `faces` heads laid out on a grid, drifting a few pixels per frame."""

    size: tuple[int, int]
    faces: int
    patches: list[np.ndarray]
    drift_px: float = 6.0

    def __post_init__(self):
        w, h = self.size
        self._bg = background(self.size)
        cols = math.ceil(math.sqrt(self.faces)) if self.faces else 1
        rows = math.ceil(self.faces / cols) if self.faces else 1
        cell_w, cell_h = w / cols, h / rows
        self._slots = []
        for i in range(self.faces):
            patch = self.patches[i % len(self.patches)]
            scale = min(0.8 * cell_h / patch.shape[0], 0.8 * cell_w / patch.shape[1])
            p = cv2.resize(patch, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            cx, cy = (i % cols + 0.5) * cell_w, (i // cols + 0.5) * cell_h
            self._slots.append((p, cx, cy, i * 1.3))

    def frame(self, index: int) -> np.ndarray:
        scene = self._bg.copy()
        for p, cx, cy, phase in self._slots:
            dx = self.drift_px * math.sin(index / 9.0 + phase)
            dy = self.drift_px * 0.5 * math.cos(index / 13.0 + phase)
            paste(scene, p, cx + dx - p.shape[1] / 2, cy + dy - p.shape[0] / 2)
        return scene
