"""Face detection with MTCNN on ONNX Runtime (`fer.mtcnn`), as explicit pre-process / forward / post-process.

Detection runs on a copy downscaled to `max_side`: MTCNN's cost grows with the pixel count,
and faces small enough to vanish at 640 px are too small to read an expression from anyway.
Boxes and landmarks are mapped back to the caller's pixel coordinates.

The networks are facenet-pytorch's, exported to ONNX, so nothing here imports torch;
`backend="torch"` runs facenet-pytorch itself, for parity tests and benchmarks only.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from fer.mtcnn import Detections
from fer.results import Face

BACKENDS = ("onnx", "torch")


@dataclass(frozen=True)
class DetectorConfig:
    min_score: float = 0.9  # MTCNN's final-stage probability; below this most hits are not faces
    min_face_size: int = 20  # pixels, at detection scale
    max_side: int = 640  # longer image side used for detection; 0 keeps full resolution
    thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7)
    # A photo this small or smaller (longer side, pixels) in which no face is found is searched
    # again with a margin: a tight face crop fills its image, and MTCNN misses a face that touches
    # the border. 0: never. Streams and videos ask for no retry per call (`detect(still=False)`).
    margin_retry_side: int = 400
    margin: float = 0.25  # of the longer side, added on every side (edge pixels repeated)


@dataclass(frozen=True)
class Preprocessed:
    image: np.ndarray  # RGB uint8 at detection scale
    scale: float  # detection pixels per original pixel
    shape: tuple[int, int]  # original (H, W)


def load_mtcnn(backend: str = "onnx", device: str = "cpu"):
    """The cascade for `backend`: `fer.mtcnn.MTCNN` (ONNX Runtime) or its torch reference."""
    from fer import mtcnn

    if backend == "onnx":
        return mtcnn.MTCNN()
    if backend == "torch":
        return mtcnn.TorchMTCNN(device)
    raise ValueError(f"detector backend must be one of {BACKENDS}, got {backend!r}")


class FaceDetector:
    """MTCNN returning typed `Face`s. Holds its settings and the loaded networks, which it only
    reads, so one detector may serve several threads and `with_config` copies share them."""

    def __init__(self, config: DetectorConfig | None = None, device: str = "cpu", backend: str = "onnx",
                 mtcnn=None):
        self.config = config or DetectorConfig()
        self.backend = backend
        self.mtcnn = mtcnn if mtcnn is not None else load_mtcnn(backend, device)

    def with_config(self, config: DetectorConfig) -> FaceDetector:
        """A detector with other thresholds / sizes sharing these loaded networks (costs nothing)."""
        return FaceDetector(config, backend=self.backend, mtcnn=self.mtcnn)

    def preprocess(self, image: np.ndarray, max_side: int | None = None) -> Preprocessed:
        h, w = image.shape[:2]
        side = self.config.max_side if max_side is None else max_side
        scale = min(1.0, side / max(h, w)) if side else 1.0
        small = image
        if scale < 1.0:
            small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))),
                               interpolation=cv2.INTER_AREA)
        return Preprocessed(np.ascontiguousarray(small), scale, (h, w))

    def forward(self, pre: Preprocessed) -> Detections:
        return self.mtcnn.detect(pre.image, self.config.min_face_size, tuple(self.config.thresholds))

    def postprocess(self, raw: Detections, pre: Preprocessed) -> list[Face]:
        h, w = pre.shape
        faces = []
        for box, prob, pts in zip(raw.boxes, raw.scores, raw.landmarks):
            if not (prob >= self.config.min_score and np.isfinite(box).all()):
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

    def detect(self, image: np.ndarray, max_side: int | None = None, still: bool = True) -> list[Face]:
        """Faces in an RGB uint8 image, left to right; [] when there are none. `max_side`
        overrides the configured detection size for this call (e.g. lower when the CPU is short).
        `still=False` for a frame of a stream or video: an empty one is not searched again with a
        margin, which would cost every faceless frame a second pass."""
        pre = self.preprocess(image, max_side)
        # No pyramid level fits when the short side is below the smallest face: nothing to find.
        if min(pre.image.shape[:2]) < max(12, self.config.min_face_size):
            faces = []
        else:
            faces = self.postprocess(self.forward(pre), pre)
        if faces or not still or not 0 < max(image.shape[:2]) <= self.config.margin_retry_side:
            return faces
        return self.detect_with_margin(image, max_side)

    __call__ = detect

    def detect_with_margin(self, image: np.ndarray, max_side: int | None = None) -> list[Face]:
        """Faces found in a copy of `image` with `config.margin` added around it, in the image's
        own coordinates (boxes clipped to it; faces centred in the margin dropped)."""
        h, w = image.shape[:2]
        p = max(1, round(self.config.margin * max(h, w)))
        padded = cv2.copyMakeBorder(np.ascontiguousarray(image), p, p, p, p, cv2.BORDER_REPLICATE)
        faces = []
        for f in self.detect(padded, max_side, still=False):
            x1, y1, x2, y2 = (v - p for v in f.box)
            if not (0 <= (x1 + x2) / 2 < w and 0 <= (y1 + y2) / 2 < h):
                continue
            box = (max(0.0, x1), max(0.0, y1), min(float(w), x2), min(float(h), y2))
            faces.append(Face(box, f.score, (np.asarray(f.landmarks, np.float32) - p).astype(np.float32)))
        return faces

    def detect_near(self, image: np.ndarray, boxes: list) -> list[Face]:
        """For each box, the face nearest its centre found in a crop around it (the box's size
        again on every side) at the crop's own resolution; none where there is none. Why: a
        detection on a downscaled frame misses faces that a crop of the same pixels still shows
        (a small face on a stream WebRTC shrank, a face the load controller detects at 320 px)."""
        h, w = image.shape[:2]
        found = []
        for x1, y1, x2, y2 in boxes:
            bw, bh = x2 - x1, y2 - y1
            cx1, cy1 = max(0, int(x1 - bw)), max(0, int(y1 - bh))
            cx2, cy2 = min(w, int(np.ceil(x2 + bw))), min(h, int(np.ceil(y2 + bh)))
            if cx2 - cx1 < 12 or cy2 - cy1 < 12:
                continue
            near = self.detect(np.ascontiguousarray(image[cy1:cy2, cx1:cx2]), still=False)
            if not near:
                continue
            centre = np.array([(x1 + x2) / 2 - cx1, (y1 + y2) / 2 - cy1])
            best = min(near, key=lambda f: float(np.hypot(*(np.array(f.center) - centre))))
            if np.hypot(*(np.array(best.center) - centre)) > max(bw, bh):
                continue  # someone else in the crop, not this face moved
            shift = np.array([cx1, cy1], np.float32)
            bx1, by1, bx2, by2 = best.box
            found.append(Face((bx1 + cx1, by1 + cy1, bx2 + cx1, by2 + cy1), best.score,
                              (np.asarray(best.landmarks, np.float32) + shift).astype(np.float32)))
        return found

    def still_faces(self, image: np.ndarray, faces: list[Face]) -> np.ndarray:
        """MTCNN's last stage (O-Net) scored on each face's box in a new frame: its face
        probability, without the pyramid. Tells the pipeline, for about a millisecond, that a
        face it is tracking between detections has left its box, so it can detect again at once."""
        if not faces:
            return np.zeros(0, np.float32)
        return self.mtcnn.face_probability(image, np.array([f.box for f in faces], np.float32))
