"""Face detection with MTCNN (facenet-pytorch), as explicit pre-process / forward / post-process.

Detection runs on a copy downscaled to `max_side`: MTCNN's cost grows with the pixel count,
and faces small enough to vanish at 640 px are too small to read an expression from anyway.
Boxes and landmarks are mapped back to the caller's pixel coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from fer.results import Face


@dataclass(frozen=True)
class DetectorConfig:
    min_score: float = 0.9  # MTCNN's final-stage probability; below this most hits are not faces
    min_face_size: int = 20  # pixels, at detection scale
    max_side: int = 640  # longer image side used for detection; 0 keeps full resolution
    thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7)


@dataclass(frozen=True)
class Preprocessed:
    image: np.ndarray  # RGB uint8 at detection scale
    scale: float  # detection pixels per original pixel
    shape: tuple[int, int]  # original (H, W)


class FaceDetector:
    """MTCNN wrapper returning typed `Face`s; holds its network, nothing else."""

    def __init__(self, config: DetectorConfig | None = None, device: str = "cpu"):
        from facenet_pytorch import MTCNN  # ships its weights in the wheel: no download

        self.config = config or DetectorConfig()
        self.mtcnn = MTCNN(keep_all=True, device=device, min_face_size=self.config.min_face_size,
                           thresholds=list(self.config.thresholds), post_process=False)

    def preprocess(self, image: np.ndarray) -> Preprocessed:
        h, w = image.shape[:2]
        side = self.config.max_side
        scale = min(1.0, side / max(h, w)) if side else 1.0
        small = image
        if scale < 1.0:
            small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))),
                               interpolation=cv2.INTER_AREA)
        return Preprocessed(np.ascontiguousarray(small), scale, (h, w))

    def forward(self, pre: Preprocessed):
        import torch

        with torch.inference_mode():
            return self.mtcnn.detect(pre.image, landmarks=True)

    def postprocess(self, raw, pre: Preprocessed) -> list[Face]:
        boxes, probs, points = normalise_mtcnn_output(*raw)
        h, w = pre.shape
        faces = []
        for box, prob, pts in zip(boxes, probs, points):
            if prob < self.config.min_score:
                continue
            box = box / pre.scale
            x1, y1 = max(0.0, box[0]), max(0.0, box[1])
            x2, y2 = min(float(w), box[2]), min(float(h), box[3])
            if x2 - x1 < 2 or y2 - y1 < 2:
                continue
            faces.append(Face((float(x1), float(y1), float(x2), float(y2)), float(prob),
                              (pts / pre.scale).astype(np.float32)))
        faces.sort(key=lambda f: (f.box[0], f.box[1]))  # stable left-to-right order
        return faces

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in an RGB uint8 image, left to right; [] when there are none."""
        pre = self.preprocess(image)
        # MTCNN builds no image pyramid (and fails) when the short side is below its smallest face.
        if min(pre.image.shape[:2]) < max(12, self.config.min_face_size):
            return []
        return self.postprocess(self.forward(pre), pre)

    __call__ = detect

    def still_faces(self, image: np.ndarray, faces: list[Face]) -> np.ndarray:
        """MTCNN's last stage (O-Net) scored on each face's box in a new frame: its face
        probability, without the pyramid. Tells the pipeline, for about a millisecond, that a
        face it is tracking between detections has left its box, so it can detect again at once."""
        import torch

        if not faces:
            return np.zeros(0, np.float32)
        h, w = image.shape[:2]
        crops = []
        for face in faces:
            x1, y1, x2, y2 = face.box
            side = max(x2 - x1, y2 - y1)  # O-Net sees square boxes (MTCNN's `rerec`)
            cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
            a, b = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
            c, d = int(min(w, cx + side / 2)), int(min(h, cy + side / 2))
            if c - a < 2 or d - b < 2:
                crops.append(np.zeros((48, 48, 3), np.uint8))
                continue
            crops.append(cv2.resize(image[b:d, a:c], (48, 48), interpolation=cv2.INTER_AREA))
        batch = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float()
        batch = (batch - 127.5) * 0.0078125  # MTCNN's input scaling
        with torch.inference_mode():
            probs = self.mtcnn.onet(batch)[2]  # O-Net ends in a softmax over (not face, face)
        return probs[:, 1].numpy().astype(np.float32)


def normalise_mtcnn_output(boxes, probs, points) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """facenet-pytorch 2.5.3 returns None for no face and object-dtype arrays under NumPy 2;
    turn all of it into float arrays of shapes (N, 4), (N,), (N, 5, 2)."""
    if boxes is None or probs is None or len(boxes) == 0:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 5, 2), np.float32)
    boxes = np.asarray([np.asarray(b, np.float32) for b in boxes], np.float32).reshape(-1, 4)
    probs = np.asarray([np.nan if p is None else float(p) for p in np.ravel(probs)], np.float32)
    if points is None:
        points = np.full((len(boxes), 5, 2), np.nan, np.float32)
    else:
        points = np.asarray([np.asarray(p, np.float32) for p in points], np.float32).reshape(-1, 5, 2)
    keep = np.isfinite(probs) & np.isfinite(boxes).all(1)
    return boxes[keep], probs[keep], points[keep]
