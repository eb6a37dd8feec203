"""MTCNN face detection on ONNX Runtime: facenet-pytorch 2.5.3's `detect_face`, step for step, without torch.

The three networks are facenet-pytorch's own weights exported by `python -m fer export-mtcnn`
(`weights/mtcnn/`); everything around them (image pyramid, P-Net box generation, NMS, box
regression, `rerec`, padding, landmarks) is NumPy here, written to reproduce facenet-pytorch's
numbers rather than to improve on them, so that `tests/test_mtcnn.py` can hold the two to the same
faces. Details that matter for that:

- Resizing is PyTorch's `interpolate(mode="area")`, i.e. adaptive average pooling (integer windows
  `floor(i*n/o) .. ceil((i+1)*n/o)`), computed exactly from one integral image per frame; OpenCV's
  INTER_AREA weights fractional pixels and gives different pixels, hence different proposals.
- Box arithmetic is float32, as in torch; NMS keeps facenet-pytorch's rules (IoU 0.5 within a
  pyramid level and 0.7 across levels and after R-Net, torchvision areas; "min" overlap 0.7 with
  +1 pixel areas after O-Net).

ONNX Runtime sessions are created once and only `run` is called on them afterwards, which is
thread-safe; the detector keeps no per-call state.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

FACTOR = 0.709  # pyramid scale step (facenet-pytorch's default)
THRESHOLDS = (0.6, 0.7, 0.7)  # P-Net, R-Net, O-Net face probability needed to pass each stage
MIN_FACE_SIZE = 20
CHUNK = 256  # boxes per R-Net / O-Net run: bounds the memory a crowd photo takes
OUTPUT_WIDTHS = {"rnet": (4, 2), "onet": (4, 10, 2)}  # box regression, [landmarks,] face probability


@dataclass(frozen=True)
class Detections:
    """MTCNN's output for one image, in its pixel coordinates; rows in facenet-pytorch's order."""

    boxes: np.ndarray  # (N, 4) float32 x1, y1, x2, y2
    scores: np.ndarray  # (N,) float32 O-Net face probability
    landmarks: np.ndarray  # (N, 5, 2) float32 (x, y): eyes, nose, mouth corners

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 5, 2), np.float32))

    def __len__(self) -> int:
        return len(self.scores)


def default_model_dir() -> Path:
    from fer.weights import WEIGHTS_DIR  # lazily: the weights module may load heavier things

    return Path(WEIGHTS_DIR) / "mtcnn"


class MTCNN:
    """P-Net, R-Net and O-Net sessions plus the NumPy cascade around them."""

    def __init__(self, model_dir: str | Path | None = None, threads: int | None = None):
        from fer.runtime import onnx_session

        model_dir = Path(model_dir) if model_dir else default_model_dir()
        self.sessions = {}
        for name in ("pnet", "rnet", "onet"):
            path = model_dir / f"{name}.onnx"
            if not path.is_file():
                raise FileNotFoundError(f"{path} is missing; write it with `python -m fer export-mtcnn`")
            self.sessions[name] = onnx_session(path, threads)

    def _run(self, name: str, x: np.ndarray) -> list[np.ndarray]:
        return self.sessions[name].run(None, {"x": x})

    def _run_boxes(self, name: str, integral, boxes, h, w, size: int) -> tuple[np.ndarray, list[np.ndarray]]:
        """Crop each box and run a network on the crops, CHUNK boxes at a time: a crowd photo
        gives thousands of candidates, and one batch of all their crops and activations would
        take gigabytes. Returns the boxes kept (crop not empty) and the network's outputs."""
        kept, outs = [], []
        for i in range(0, len(boxes), CHUNK):
            part, crops = crop_boxes(integral, boxes[i:i + CHUNK], h, w, size)
            kept.append(part)
            if len(part):
                outs.append(self._run(name, normalise(crops)))
        boxes = np.concatenate(kept) if kept else boxes[:0]
        if not outs:  # every box lay outside the image
            return boxes, [np.zeros((0, n), np.float32) for n in OUTPUT_WIDTHS[name]]
        return boxes, [np.concatenate(parts) for parts in zip(*outs)]

    def detect(self, image: np.ndarray, min_face_size: int = MIN_FACE_SIZE,
               thresholds: tuple[float, float, float] = THRESHOLDS, factor: float = FACTOR) -> Detections:
        """Faces in an RGB uint8 (H, W, 3) image, as facenet-pytorch's `MTCNN.detect` finds them."""
        h, w = image.shape[:2]
        integral = integral_image(image)
        boxes = self._stage_one(integral, h, w, min_face_size, thresholds[0], factor)
        if len(boxes):
            boxes = self._stage_two(integral, boxes, h, w, thresholds[1])
        if not len(boxes):
            return Detections.empty()
        return self._stage_three(integral, boxes, h, w, thresholds[2])

    def _stage_one(self, integral, h, w, min_face_size, threshold, factor) -> np.ndarray:
        """P-Net over the pyramid -> square candidate boxes (N, 5): x1, y1, x2, y2, score."""
        per_scale = []
        for scale in pyramid_scales(h, w, min_face_size, factor):
            size = (int(h * scale + 1), int(w * scale + 1))
            x = normalise(area_resize(integral, size))
            reg, prob = self._run("pnet", x)
            cand = generate_boxes(reg[0], prob[0, 1], scale, threshold)
            per_scale.append(cand[nms(cand[:, :4], cand[:, 4], 0.5)])
        boxes = np.concatenate(per_scale) if per_scale else np.zeros((0, 9), np.float32)
        boxes = boxes[nms(boxes[:, :4], boxes[:, 4], 0.7)]
        regw = boxes[:, 2] - boxes[:, 0]
        regh = boxes[:, 3] - boxes[:, 1]
        moved = np.stack([boxes[:, 0] + boxes[:, 5] * regw, boxes[:, 1] + boxes[:, 6] * regh,
                          boxes[:, 2] + boxes[:, 7] * regw, boxes[:, 3] + boxes[:, 8] * regh, boxes[:, 4]], 1)
        return rerec(moved)

    def _stage_two(self, integral, boxes, h, w, threshold) -> np.ndarray:
        """R-Net re-scores and regresses each candidate; NMS 0.7."""
        boxes, (reg, prob) = self._run_boxes("rnet", integral, boxes, h, w, 24)
        score = prob[:, 1]
        keep = score > threshold
        boxes = np.concatenate([boxes[keep, :4], score[keep, None]], 1)
        reg = reg[keep]
        pick = nms(boxes[:, :4], boxes[:, 4], 0.7)
        return rerec(bbreg(boxes[pick], reg[pick]))

    def _stage_three(self, integral, boxes, h, w, threshold) -> Detections:
        """O-Net: final score, box regression and the five landmarks; NMS 0.7 "min"."""
        boxes, (reg, points, prob) = self._run_boxes("onet", integral, boxes, h, w, 48)
        score = prob[:, 1]
        keep = score > threshold
        boxes = np.concatenate([boxes[keep, :4], score[keep, None]], 1)
        reg, points = reg[keep], points[keep]
        bw = boxes[:, 2:3] - boxes[:, 0:1] + 1
        bh = boxes[:, 3:4] - boxes[:, 1:2] + 1
        px = bw * points[:, :5] + boxes[:, 0:1] - 1
        py = bh * points[:, 5:10] + boxes[:, 1:2] - 1
        landmarks = np.stack([px, py], 2)
        boxes = bbreg(boxes, reg)
        pick = nms(boxes[:, :4], boxes[:, 4], 0.7, mode="min")
        return Detections(boxes[pick, :4].astype(np.float32), boxes[pick, 4].astype(np.float32),
                          landmarks[pick].astype(np.float32))

    def face_probability(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """O-Net's face probability for given (N, 4) boxes, squared and cropped as MTCNN's last
        stage crops them: a ~1 ms check that a tracked box still holds a face."""
        out = np.zeros(len(boxes), np.float32)
        valid, crops = square_crops(image, boxes, 48)
        if valid.any():
            out[valid] = self._run("onet", normalise(crops))[2][:, 1]
        return out


class TorchMTCNN:
    """facenet-pytorch's own MTCNN behind the same two methods: the reference that parity tests
    and benchmarks compare against. Imports torch; the runtime never constructs it."""

    def __init__(self, device: str = "cpu"):
        from facenet_pytorch import MTCNN as FacenetMTCNN

        from fer.runtime import apply_threads

        apply_threads()  # torch is loaded now: size its pool like every other
        self.net = FacenetMTCNN(keep_all=True, device=device, post_process=False)

    def detect(self, image: np.ndarray, min_face_size: int = MIN_FACE_SIZE,
               thresholds: tuple[float, float, float] = THRESHOLDS, factor: float = FACTOR) -> Detections:
        """facenet-pytorch's `detect_face` (what `MTCNN.detect` calls) with these settings."""
        import torch
        from facenet_pytorch.models.utils.detect_face import detect_face

        with torch.inference_mode():
            boxes, points = detect_face(np.ascontiguousarray(image), min_face_size, self.net.pnet,
                                        self.net.rnet, self.net.onet, list(thresholds), factor, self.net.device)
        boxes = np.asarray(boxes[0], np.float32).reshape(-1, 5)
        return Detections(boxes[:, :4].copy(), boxes[:, 4].copy(),
                          np.asarray(points[0], np.float32).reshape(-1, 5, 2))

    def face_probability(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        import torch

        out = np.zeros(len(boxes), np.float32)
        valid, crops = square_crops(image, boxes, 48)
        if valid.any():
            with torch.inference_mode():
                out[valid] = self.net.onet(torch.from_numpy(normalise(crops)))[2][:, 1].numpy()
        return out


# ---- pure helpers, each mirroring the facenet-pytorch function of the same role ----

def pyramid_scales(h: int, w: int, min_face_size: int, factor: float = FACTOR) -> list[float]:
    """Scales at which P-Net's 12 px window covers faces from `min_face_size` up to the short side."""
    m = 12.0 / min_face_size
    minl = min(h, w) * m
    scales, scale = [], m
    while minl >= 12:
        scales.append(scale)
        scale *= factor
        minl *= factor
    return scales


def integral_image(image: np.ndarray) -> np.ndarray:
    """(H+1, W+1, C) summed-area table; int32 while it cannot overflow (exact sums, and faster)."""
    h, w = image.shape[:2]
    depth = cv2.CV_32S if h * w < (2**31 - 1) // 255 else cv2.CV_64F
    integral = cv2.integral(np.ascontiguousarray(image), sdepth=depth)
    return integral if integral.ndim == 3 else integral[..., None]


def _windows(start: np.ndarray, length: np.ndarray, out: int) -> tuple[np.ndarray, np.ndarray]:
    """Adaptive-average-pooling windows: output i of `out` averages input
    [start + floor(i*n/out), start + ceil((i+1)*n/out)) for input length n (broadcast over rows)."""
    i = np.arange(out, dtype=np.int64)
    n = np.asarray(length, np.int64)[..., None]
    s = np.asarray(start, np.int64)[..., None]
    return s + (i * n) // out, s - ((-(i + 1) * n) // out)


def area_resize(integral: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The whole image behind `integral` resized to `size` (h, w) as torch's
    `interpolate(mode="area")` does; float32 (1, C, h, w). Separable: rows, then columns."""
    ya, yb = _windows(0, integral.shape[0] - 1, size[0])
    xa, xb = _windows(0, integral.shape[1] - 1, size[1])
    rows = integral.take(yb, 0) - integral.take(ya, 0)  # (h, W+1, C)
    total = rows.take(xb, 1) - rows.take(xa, 1)  # (h, w, C)
    area = ((yb - ya)[:, None] * (xb - xa)[None, :]).astype(np.float32)[..., None]
    return np.ascontiguousarray((total.astype(np.float32) / area).transpose(2, 0, 1))[None]


def area_resize_many(integral: np.ndarray, y0, x0, y1, x1, size: int) -> np.ndarray:
    """Windows [y0:y1, x0:x1] ((N,) arrays) each resized to size x size like `area_resize`:
    float32 (N, C, size, size), gathered from the flattened table in one pass per corner."""
    y0, x0, y1, x1 = (np.asarray(v, np.int64) for v in (y0, x0, y1, x1))
    ya, yb = _windows(y0, y1 - y0, size)  # (N, size)
    xa, xb = _windows(x0, x1 - x0, size)
    stride, channels = integral.shape[1], integral.shape[2]
    flat = integral.reshape(-1, channels)
    ra, rb = (ya * stride)[:, :, None], (yb * stride)[:, :, None]
    ca, cb = xa[:, None, :], xb[:, None, :]
    total = (flat.take((rb + cb).ravel(), 0) - flat.take((ra + cb).ravel(), 0)
             - flat.take((rb + ca).ravel(), 0) + flat.take((ra + ca).ravel(), 0))
    area = ((yb - ya)[:, :, None] * (xb - xa)[:, None, :]).astype(np.float32).reshape(-1, 1)
    out = (total.astype(np.float32) / area).reshape(len(y0), size, size, channels)
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2))


def normalise(x: np.ndarray) -> np.ndarray:
    """MTCNN's input scaling, in float32 as facenet-pytorch does it."""
    return ((x - np.float32(127.5)) * np.float32(0.0078125)).astype(np.float32, copy=False)


def generate_boxes(reg: np.ndarray, prob: np.ndarray, scale: float, threshold: float) -> np.ndarray:
    """P-Net map cells at or above `threshold` -> (N, 9): x1, y1, x2, y2, score, 4 regressions.
    reg: (4, H, W), prob: (H, W). Each cell is a 12 px window at stride 2 in the scaled image."""
    ys, xs = np.nonzero(prob >= threshold)
    bb = np.stack([xs, ys], 1).astype(np.float32)
    s = np.float32(scale)
    q1 = np.floor((2 * bb + 1) / s)
    q2 = np.floor((2 * bb + 12) / s)
    return np.concatenate([q1, q2, prob[ys, xs, None], reg[:, ys, xs].T], 1).astype(np.float32)


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, mode: str = "union") -> np.ndarray:
    """Greedy non-maximum suppression; indices kept, best score first. A box is dropped when its
    overlap with a kept box exceeds `threshold`.
    "union": IoU with areas (x2-x1)*(y2-y1), as torchvision.ops.nms in facenet-pytorch's stages 1-2
    (OpenCV's NMSBoxes computes exactly that, in C++: P-Net gives hundreds of boxes);
    "min": intersection over the smaller box with +1 pixel areas, as its final stage (`nms_numpy`)."""
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    if mode == "union":
        xywh = np.concatenate([boxes[:, :2], boxes[:, 2:4] - boxes[:, :2]], 1).astype(np.float64)
        # score_threshold 0: OpenCV drops only scores of exactly 0, which no stage passes on.
        keep = cv2.dnn.NMSBoxes(xywh, scores.astype(np.float64), 0.0, float(threshold))
        return np.asarray(keep, np.int64).reshape(-1)
    if mode != "min":
        raise ValueError(f"nms mode must be 'union' or 'min', got {mode!r}")
    x1, y1, x2, y2 = (boxes[:, i] for i in range(4))
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(scores)[::-1]  # facenet-pytorch takes the last of np.argsort
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(i)
        iw = np.maximum(0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        ih = np.maximum(0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        order = rest[iw * ih / np.minimum(area[i], area[rest]) <= threshold]
    return np.asarray(keep, np.int64)


def rerec(boxes: np.ndarray) -> np.ndarray:
    """Square each box about its centre on its longer side (boxes (N, >=4), returns a copy)."""
    boxes = boxes.astype(np.float32, copy=True)
    h = boxes[:, 3] - boxes[:, 1]
    w = boxes[:, 2] - boxes[:, 0]
    side = np.maximum(w, h)
    boxes[:, 0] = boxes[:, 0] + w * np.float32(0.5) - side * np.float32(0.5)
    boxes[:, 1] = boxes[:, 1] + h * np.float32(0.5) - side * np.float32(0.5)
    boxes[:, 2] = boxes[:, 0] + side
    boxes[:, 3] = boxes[:, 1] + side
    return boxes


def bbreg(boxes: np.ndarray, reg: np.ndarray) -> np.ndarray:
    """Apply R-/O-Net's regression (fractions of the +1 pixel width/height); returns a copy."""
    boxes = boxes.astype(np.float32, copy=True)
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    boxes[:, :4] = boxes[:, :4] + reg[:, :4] * np.stack([w, h, w, h], 1)
    return boxes


def crop_window(boxes: np.ndarray, h: int, w: int) -> tuple[np.ndarray, ...]:
    """facenet-pytorch's `pad`: truncated box clipped to the image, as 0-based half-open
    x0, y0, x1, y1 (its crop `img[y-1:ey, x-1:ex]` with 1-based x, y)."""
    b = np.trunc(boxes[:, :4]).astype(np.int64)
    x, y = np.maximum(b[:, 0], 1), np.maximum(b[:, 1], 1)
    ex, ey = np.minimum(b[:, 2], w), np.minimum(b[:, 3], h)
    return x - 1, y - 1, ex, ey


def crop_boxes(integral: np.ndarray, boxes: np.ndarray, h: int, w: int, size: int):
    """Crops of each box resized to size x size (N, C, size, size); boxes whose crop would be
    empty (wholly outside the image) are dropped, and the boxes kept are returned with them."""
    x0, y0, x1, y1 = crop_window(boxes, h, w)
    ok = (x1 > x0) & (y1 > y0)
    if not ok.all():
        boxes, x0, y0, x1, y1 = boxes[ok], x0[ok], y0[ok], x1[ok], y1[ok]
    return boxes, area_resize_many(integral, y0, x0, y1, x1, size)


def square_crops(image: np.ndarray, boxes: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Boxes squared (`rerec`) and cropped as the cascade crops them, without a pyramid: (N,) mask
    of boxes that overlap the image, and their (M, C, size, size) crops. Integrates only the
    region the boxes cover, so a few boxes in a large frame stay cheap."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    h, w = image.shape[:2]
    x0, y0, x1, y1 = crop_window(rerec(boxes), h, w)
    valid = (x1 > x0) & (y1 > y0)
    if not valid.any():
        return valid, np.zeros((0, image.shape[2] if image.ndim == 3 else 1, size, size), np.float32)
    x0, y0, x1, y1 = x0[valid], y0[valid], x1[valid], y1[valid]
    bx, by = x0.min(), y0.min()
    integral = integral_image(image[by:y1.max(), bx:x1.max()])
    return valid, area_resize_many(integral, y0 - by, x0 - bx, y1 - by, x1 - bx, size)
