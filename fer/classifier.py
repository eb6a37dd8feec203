"""Emotion classifier: aligned 48x48 grey crops in, calibrated probabilities out.

The default backend runs the ONNX graph that `python -m fer publish` wrote beside the weights
(ONNX Runtime runs these small convnets 2-4x faster than eager PyTorch on a CPU) and imports no
torch. `backend="torch"` rebuilds the network from the registry by the card's architecture
name; it serves training, parity tests and machines without the ONNX file.

`precision="auto"` runs the card's int8 graph where publish wrote one and its recorded parity
with the float model meets the targets (>= 99% top-1 agreement, accuracy within 0.3 points):
about a third of the float graph's time per face on CPUs with int8 dot-product instructions.
Explanations need the float graph's activation maps, so it is opened too when first asked for.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np

from fer.tta import merge_views, tta_views
from fer.weights import (
    ModelCard,
    OnnxInfo,
    card_path,
    default_weights,
    int8_path,
    onnx_path,
    sha256_of,
    weights_path,
)

log = logging.getLogger(__name__)

BACKENDS = ("auto", "onnx", "torch")
PRECISIONS = ("auto", "float", "int8")


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits.astype(np.float64) / temperature
    z -= z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


class EmotionClassifier:
    """Loads one weights file plus its card; `predict_proba(crops)` is the whole interface.

    Thread-safe: ONNX Runtime sessions accept concurrent `run` calls, and the torch model is
    only ever called, never modified, once built."""

    def __init__(self, weights: str | Path | None = None, backend: str = "auto", device: str = "cpu",
                 threads: int | None = None, tta: str = "none", precision: str = "auto"):
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
        path = weights_path(weights) if weights else default_weights()
        if not path.is_file():
            raise FileNotFoundError(f"weights not found: {path}")
        cpath = card_path(path)
        if not cpath.is_file():
            raise FileNotFoundError(f"model card not found beside the weights: {cpath}")
        self.card = ModelCard.read(cpath)
        self.weights_path = path
        self.labels: tuple[str, ...] = self.card.labels
        self.input_size = self.card.input_size
        self.tta = tta  # a fer.tta policy: "none", "flip" or "flip_zoom"
        self.temperature = self.card.temperature
        self.device = device = str(device)  # "cpu", "cuda", "cuda:1" (a torch.device works too)
        self._mean = np.asarray(self.card.mean, np.float32).reshape(1, -1, 1, 1)
        self._std = np.asarray(self.card.std, np.float32).reshape(1, -1, 1, 1)
        self._model = None
        self._model_lock = threading.Lock()
        self._threads = threads
        self.session = None  # the graph `forward` runs (int8 or float)
        self._float_session = None  # the float graph, opened when needed (explanations)
        if self._wants_int8(precision, backend, device):
            self.session = self._open_int8(required=precision == "int8")
        self.precision = "int8" if self.session is not None else "float"
        if self.precision == "float" and backend != "torch" and device == "cpu":
            self.session = self._float_session = self._open_session(backend, threads)
        elif backend == "onnx" and device != "cpu":
            raise ValueError(f"the ONNX backend runs on the CPU only, not on {device!r}")
        self.backend = "onnx" if self.session is not None else "torch"
        # read once: `run` picks a graph by these names on every call (the live path's hot loop)
        self._session_outputs = tuple(o.name for o in self.session.get_outputs()) if self.session else ()
        if self.backend == "torch":
            self._load_model()  # now: a missing torch should fail here, not on the first frame

    def _wants_int8(self, precision: str, backend: str, device: str) -> bool:
        """Whether to run the int8 graph: asked for, or `auto` and the card's parity is good."""
        info = self.card.int8
        if precision == "int8":
            if backend == "torch" or device != "cpu":
                raise ValueError("the int8 graph runs on ONNX Runtime on the CPU only")
            if info is None:
                raise ValueError(f"{self.weights_path.name} has no int8 graph: write one with "
                                 f"`python -m fer publish {self.weights_path} --onnx-only`")
            return True
        return (precision == "auto" and backend != "torch" and device == "cpu" and info is not None
                and info.parity_ok and int8_path(self.weights_path, self.card).is_file())

    def _open_int8(self, required: bool):
        """The int8 graph's session, or None (logged) where `auto` can fall back to the float one."""
        from fer.runtime import onnx_session

        path = int8_path(self.weights_path, self.card)
        try:
            self._check_graph(path, self.card.int8.graph)
            return onnx_session(path, self._threads)
        except Exception as e:
            if required:
                raise
            log.warning("int8 graph of %s unusable (%s); running the float graph", self.weights_path.name, e)
            return None

    def _open_session(self, backend: str, threads: int | None):
        """The float graph's ONNX Runtime session, or None (logged) where `auto` has to fall back
        to torch."""
        path = onnx_path(self.weights_path, self.card)
        try:
            if not path.is_file():
                raise FileNotFoundError(f"{path} not found: write it with `python -m fer publish "
                                        f"{self.weights_path} --onnx-only`")
            self._check_graph(path, self.card.onnx)
            from fer.runtime import onnx_session

            return onnx_session(path, threads)
        except Exception as e:
            if backend == "onnx":
                raise
            log.warning("ONNX Runtime unavailable for %s (%s); falling back to PyTorch, which is slower",
                        self.weights_path.name, e)
            return None

    def _check_graph(self, path: Path, info: OnnxInfo | None) -> None:
        """The graph and the tensors it reads must be the files the card names: a graph left over
        from other weights would point at the wrong bytes of the safetensors file."""
        if info is None:
            return
        files = {path: info.sha256}
        if info.weights and info.weights_sha256:
            files[path.with_name(info.weights)] = info.weights_sha256
        stale = [f.name for f, sha in files.items() if sha256_of(f) != sha]
        if stale:
            raise ValueError(f"{', '.join(stale)} changed since {path.name} was exported: re-export "
                             f"with `python -m fer publish {self.weights_path} --onnx-only`")

    @property
    def model(self):
        """The PyTorch network (built on first use; the ONNX backend never needs it)."""
        return self._load_model()

    def _load_model(self):
        with self._model_lock:
            if self._model is None:
                from fer.models.state import load_model

                self._model = load_model(self.card.architecture, len(self.labels), self.weights_path).to(self.device)
            return self._model

    @property
    def outputs(self) -> tuple[str, ...]:
        """Names of the outputs `run` can return ("logits", and "cam" where the float graph has
        activation maps)."""
        names = self._session_outputs
        if self.precision == "int8" and self.card.onnx is not None:
            names += tuple(n for n in self.card.onnx.outputs if n not in names)
        return names

    def _session_for(self, outputs: tuple[str, ...]):
        """The int8 graph where it has every output asked for, else the float graph."""
        if all(n in self._session_outputs for n in outputs):
            return self.session
        with self._model_lock:
            if self._float_session is None:
                self._float_session = self._open_session("onnx", self._threads)
        return self._float_session

    def preprocess(self, crops: np.ndarray) -> np.ndarray:
        """(N, S, S) uint8 grey -> (N, 1, S, S) float32, normalised as in training."""
        crops = np.asarray(crops)
        if crops.ndim == 2:
            crops = crops[None]
        if crops.shape[1:] != (self.input_size, self.input_size):
            raise ValueError(f"expected crops of {self.input_size}x{self.input_size}, got {crops.shape[1:]}")
        x = crops.astype(np.float32)[:, None] / 255.0
        return np.ascontiguousarray((x - self._mean) / self._std)

    def run(self, x: np.ndarray, outputs: tuple[str, ...] = ("logits",)) -> list[np.ndarray]:
        """The ONNX graph's named outputs for a pre-processed batch (one view, no TTA)."""
        if self.session is None:
            raise RuntimeError("this classifier runs on PyTorch; it has no ONNX graph")
        return self._session_for(outputs).run(list(outputs), {"x": np.ascontiguousarray(x, np.float32)})

    def forward(self, x: np.ndarray, tta: str | None = None) -> np.ndarray:
        if len(x) == 0:
            return np.zeros((0, len(self.labels)), np.float32)
        n = len(x)
        x = tta_views(x, tta or self.tta)
        if self.session is not None:
            logits = self.run(x)[0]
        else:
            import torch

            model = self.model
            with torch.inference_mode():
                logits = model(torch.from_numpy(np.ascontiguousarray(x)).to(self.device)).float().cpu().numpy()
        return merge_views(logits, n)

    def postprocess(self, logits: np.ndarray) -> np.ndarray:
        return softmax(logits, self.temperature)

    def predict_logits(self, crops: np.ndarray, batch: int = 256, tta: str | None = None) -> np.ndarray:
        x = self.preprocess(crops)
        if len(x) <= batch:
            return self.forward(x, tta)
        return np.concatenate([self.forward(x[i : i + batch], tta) for i in range(0, len(x), batch)])

    def predict_proba(self, crops: np.ndarray, tta: str | None = None) -> np.ndarray:
        """(N, C) probabilities in `self.labels` order; each row sums to 1. `tta` overrides the
        classifier's own test-time augmentation for this call."""
        return self.postprocess(self.predict_logits(crops, tta=tta))
